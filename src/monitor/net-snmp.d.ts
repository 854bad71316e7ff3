/**
 * The part of the npm `net-snmp` package (3.x, no types of its own) that src/monitor/snmp.ts
 * uses: an AgentX subagent over TCP and its MIB of scalar and table providers.
 */
declare module 'net-snmp' {
  import type { EventEmitter } from 'node:events';

  export const ObjectType: {
    readonly Integer: number;
    readonly OctetString: number;
    readonly OID: number;
    readonly IpAddress: number;
    readonly Counter32: number;
    readonly Gauge32: number;
    readonly Unsigned32: number;
    readonly TimeTicks: number;
    readonly Counter64: number;
  };
  export const MibProviderType: { readonly Scalar: number; readonly Table: number };
  export const MaxAccess: {
    readonly 'not-accessible': number;
    readonly 'accessible-for-notify': number;
    readonly 'read-only': number;
  };

  export type SnmpValue = number | string | Buffer | bigint;

  export interface TableColumn {
    readonly number: number;
    readonly name: string;
    readonly type: number;
    readonly maxAccess: number;
  }
  export interface IndexEntry {
    readonly columnName: string;
    readonly foreign?: string;
  }
  export interface ProviderDefinition {
    readonly name: string;
    readonly type: number;
    readonly oid: string;
    readonly maxAccess: number;
    readonly scalarType?: number;
    readonly tableColumns?: readonly TableColumn[];
    readonly tableIndex?: readonly IndexEntry[];
  }

  export interface Mib {
    registerProvider(provider: ProviderDefinition): void;
    setScalarValue(name: string, value: SnmpValue): void;
    addTableRow(table: string, row: readonly SnmpValue[]): void;
  }

  export interface Varbind {
    readonly oid: string;
    readonly type: number;
    readonly value: SnmpValue;
  }

  export interface Subagent extends EventEmitter {
    mib: Mib;
    getMib(): Mib;
    onMsg(buffer: Buffer, rinfo?: unknown): void;
    open(callback: (error: Error | null, pdu?: unknown) => void): void;
    close(callback?: (error: Error | null) => void): void;
    registerProvider(provider: ProviderDefinition, callback: (error: Error | null) => void): void;
    notify(oid: string, varbinds: readonly Varbind[], callback: (error: Error | null) => void): void;
    readonly socket?: { destroy(): void; end(): void; readonly destroyed: boolean; removeAllListeners(event: string): void; on(event: 'data', listener: (buffer: Buffer) => void): void };
  }

  /** The AgentX encoder; src/monitor/snmp.ts replaces its octet-string and IpAddress writers (see there). */
  export interface SmartBufferLike {
    writeUInt32BE(value: number): void;
    writeUInt16BE(value: number): void;
    writeUInt8(value: number): void;
    writeBuffer(value: Buffer): void;
  }
  export const AgentXPdu: {
    writeOctetString: (buffer: SmartBufferLike, value: string | Buffer) => void;
    writeVarBind: (buffer: SmartBufferLike, varbind: Varbind) => void;
    writeOid: (buffer: SmartBufferLike, oid: string) => void;
  };

  export function createSubagent(options: { master: string; masterPort: number; timeout?: number; description?: string; mib?: Mib }): Subagent;
  export function createMib(options?: Record<string, unknown>): Mib;
}
