/**
 * The resource manager's vocabulary, Pacemaker's in small (docs/reference/resources.md):
 * resources with start / stop / monitor operations that answer in OCF exit codes, their
 * meta attributes, groups bound to the VRRP side, and health checks.
 */
import type { IpAddress } from '../net/address.js';

/** OCF exit codes (the OCF resource agent API; Pacemaker Explained "OCF Return Codes"). */
export const OCF = {
  SUCCESS: 0,
  ERR_GENERIC: 1,
  ERR_ARGS: 2,
  ERR_UNIMPLEMENTED: 3,
  ERR_PERM: 4,
  ERR_INSTALLED: 5,
  ERR_CONFIGURED: 6,
  NOT_RUNNING: 7,
  RUNNING_PROMOTED: 8,
  FAILED_PROMOTED: 9,
  DEGRADED: 190,
} as const;
export type OcfCode = (typeof OCF)[keyof typeof OCF] | number;

/** How bad a failed operation is (Pacemaker: soft, hard, fatal). */
export type FailureClass = 'soft' | 'hard' | 'fatal';

/** 1 (and unknown codes): soft — restart, counts toward migration-threshold; 2, 5: hard — ban this node; 6: fatal — stop everywhere; 3, 4: hard. */
export function failureClass(rc: number): FailureClass {
  if (rc === OCF.ERR_CONFIGURED) return 'fatal';
  if (rc === OCF.ERR_ARGS || rc === OCF.ERR_INSTALLED || rc === OCF.ERR_UNIMPLEMENTED || rc === OCF.ERR_PERM) return 'hard';
  return 'soft';
}

export type OperationName = 'start' | 'stop' | 'monitor';

/** The outcome of one operation: the OCF code (a timeout is ERR_GENERIC with timedOut). */
export interface OperationResult {
  readonly rc: OcfCode;
  readonly timedOut: boolean;
  /** What happened, for the log and `vigil resource status` ("exit 1: haproxy: cannot bind", "timed out after 20s"). */
  readonly detail: string;
  readonly elapsedMs: number;
}

/** Something vigil can start, stop and monitor. Every method resolves (never rejects) within its timeout. */
export interface ResourceAgent {
  start(timeoutMs: number): Promise<OperationResult>;
  stop(timeoutMs: number): Promise<OperationResult>;
  /** SUCCESS running, NOT_RUNNING cleanly stopped, anything else failed. */
  monitor(timeoutMs: number): Promise<OperationResult>;
  /** Releases the agent's handles (sockets, timers); does not stop the resource. */
  close?(): void;
}

/** Pacemaker's on-fail for monitor and start failures. */
export type OnFail = 'restart' | 'ignore' | 'block' | 'stop' | 'standby';

export type TargetRole = 'started' | 'stopped';

/** Where a resource or group may run: where its VRRP instance (or sync group) is master, or on every node. */
export type Placement = { readonly kind: 'master'; readonly instance: string } | { readonly kind: 'master-of-sync-group'; readonly group: string } | { readonly kind: 'everywhere' };

export type ResourceSpec =
  | { readonly type: 'vip'; readonly address: IpAddress; readonly prefixLength: number; readonly interface: string; readonly label?: string }
  /** settleMs: how long the process must stay up for a start to succeed (500 ms). */
  | { readonly type: 'exec'; readonly command: readonly string[]; readonly env?: Readonly<Record<string, string>>; readonly cwd?: string; readonly settleMs?: number }
  | { readonly type: 'systemd'; readonly unit: string }
  | { readonly type: 'ocf'; readonly agent: string; readonly params: Readonly<Record<string, string>> };

export interface ResourceConfig {
  readonly name: string;
  readonly spec: ResourceSpec;
  readonly startTimeoutMs: number;
  readonly stopTimeoutMs: number;
  readonly monitorTimeoutMs: number;
  /** 0: no recurring monitor. */
  readonly monitorIntervalMs: number;
  readonly onFail: OnFail;
  /** Failures on this node before it is banned for the resource; Infinity = never. */
  readonly migrationThreshold: number;
  /** Failures older than this are forgotten; undefined = never. */
  readonly failureTimeoutMs?: number;
  readonly targetRole: TargetRole;
}

export interface GroupConfig {
  readonly name: string;
  /** Started in this order, stopped in reverse. */
  readonly resources: readonly string[];
  readonly placement: Placement;
}

export type HealthCheckSpec =
  /**
   * GET `url`; healthy when the status is `expectStatus` and, with `bodyMatch`, the first 64 KiB of the body contain it
   * (a substring; a JavaScript regular expression when `bodyMatchRegex`). `insecure` skips certificate verification (self-signed).
   */
  | { readonly type: 'http' | 'https'; readonly url: string; readonly expectStatus: number; readonly bodyMatch?: string; readonly bodyMatchRegex?: boolean; readonly insecure: boolean }
  | { readonly type: 'tcp'; readonly address: IpAddress; readonly port: number }
  /** Process presence by name (comm) or command-line substring, from /proc: no fork per check. */
  | { readonly type: 'process'; readonly name: string; readonly minCount: number }
  | { readonly type: 'script'; readonly path: string; readonly args: readonly string[] };

export interface HealthCheckConfig {
  readonly name: string;
  readonly spec: HealthCheckSpec;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** Successes in a row to become healthy. */
  readonly rise: number;
  /** Failures in a row to become unhealthy. */
  readonly fall: number;
  /** keepalived track_script: added to (weight > 0, while healthy) or subtracted from (weight < 0, while unhealthy) the priority; 0 = FAULT while unhealthy. */
  readonly weight: number;
  /** The VRRP instances whose priority it moves. */
  readonly instances: readonly string[];
  /** The resource whose recovery it drives (its failure counts as a monitor failure of that resource). */
  readonly resource?: string;
}
