/**
 * The resource manager's vocabulary, Pacemaker's in small (docs/reference/resources.md):
 * resources with start / stop / monitor operations that answer in OCF exit codes, their
 * meta attributes, groups bound to the VRRP side, and health checks.
 */
import type { IpAddress } from '../net/address.js';
import type { ResourceChange } from './reconfigure.js';

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

// ---- the resource manager's interface (src/resources/manager.ts) ---------------------

/** Pacemaker's INFINITY: fail counts and thresholds saturate here. */
export const INFINITY = 1_000_000;

export interface ResourceManagerConfig {
  readonly resources: readonly ResourceConfig[];
  /** Resources in no group are stand-alone, placed everywhere. A resource is in at most one group. */
  readonly groups: readonly GroupConfig[];
  /** Pacemaker start-failure-is-fatal (default true): a failed start sets the fail count to INFINITY. */
  readonly startFailureIsFatal?: boolean;
}

export type ResourceCommand = 'start' | 'stop' | 'restart' | 'cleanup';

export type ResourceEvent =
  /** Probe every resource once (a monitor) to learn what already runs. Nothing is done before it. */
  | { readonly type: 'startup' }
  /** The deadline from `nextDeadline()` has passed. */
  | { readonly type: 'tick' }
  /** The group (or stand-alone resource) may run here, or may not (VRRP not master, standby, inquorate). */
  | { readonly type: 'placement'; readonly group: string; readonly allowed: boolean }
  | { readonly type: 'standby'; readonly on: boolean }
  | { readonly type: 'maintenance'; readonly on: boolean }
  /** The answer to the `run-op` action with this id. */
  | { readonly type: 'op-result'; readonly resource: string; readonly op: OperationName; readonly id: number; readonly result: OperationResult }
  /** A health check bound to the resource changed; unhealthy counts as a monitor failure (ERR_GENERIC). */
  | { readonly type: 'check'; readonly resource: string; readonly healthy: boolean }
  | { readonly type: 'command'; readonly command: ResourceCommand; readonly resource: string }
  /**
   * A reload: the new resources and groups, and where each group may run now (the caller
   * knows mastership; a group missing here keeps what it had, or its default).
   */
  | { readonly type: 'reconfigure'; readonly config: ResourceManagerConfig; readonly placements: Readonly<Record<string, boolean>> };

export type ResourceState = 'stopped' | 'starting' | 'started' | 'stopping' | 'failed' | 'blocked' | 'unknown';

export type ResourceAction =
  | {
      readonly type: 'run-op';
      readonly id: number;
      readonly resource: string;
      readonly op: OperationName;
      readonly timeoutMs: number;
      /** A one-time monitor to learn the state (startup, cleanup, maintenance off): NOT_RUNNING is no failure. */
      readonly probe?: true;
    }
  | { readonly type: 'resource-state'; readonly resource: string; readonly from: ResourceState; readonly to: ResourceState; readonly reason: string }
  /** The group (or stand-alone resource) may not run on this node (banned: true) or may again (false). */
  | { readonly type: 'ban'; readonly group: string; readonly banned: boolean; readonly reason: string }
  | { readonly type: 'ban'; readonly resource: string; readonly banned: boolean; readonly reason: string }
  /** on-fail=standby: the node should go into standby (the manager already behaves as in standby). */
  | { readonly type: 'standby-request'; readonly reason: string }
  /** What a `reconfigure` does to each resource (unchanged ones included). */
  | { readonly type: 'reconfigured'; readonly changes: readonly ResourceChange[] }
  /** A resource removed by a reload is stopped (or was left as it is: maintenance, blocked): the caller may drop its agent. */
  | { readonly type: 'retired'; readonly resource: string; readonly detail: string };

export interface FailureRecord {
  /** The operation that failed; a health check failure is a monitor failure. */
  readonly op: OperationName;
  readonly rc: number;
  readonly timedOut: boolean;
  readonly detail: string;
  readonly at: number;
  /** What it adds to the fail count (1, or INFINITY for start, stop and hard failures). */
  readonly weight: number;
  readonly failureClass: FailureClass;
}

export interface ResourceStatus {
  readonly name: string;
  /** The group's name, or null for a stand-alone resource. */
  readonly group: string | null;
  readonly state: ResourceState;
  readonly targetRole: TargetRole;
  /** Sum of the unexpired failures, saturating at INFINITY. */
  readonly failCount: number;
  /** The configured migration-threshold, saturated at INFINITY. */
  readonly migrationThreshold: number;
  /** Its group (or itself, stand-alone) is banned on this node. */
  readonly banned: boolean;
  /** Why no operation runs on it any more (stop failure, on-fail=block), or null. */
  readonly blocked: string | null;
  /** An ERR_CONFIGURED failure: it stays stopped until cleanup. */
  readonly fatal: boolean;
  /** on-fail=stop: it stays stopped until cleanup or a start command. */
  readonly stoppedByFailure: boolean;
  readonly lastFailure: (FailureRecord & { readonly agoMs: number }) | null;
  readonly inFlight: { readonly id: number; readonly op: OperationName; readonly probe: boolean; readonly elapsedMs: number } | null;
  readonly nextMonitorInMs: number | null;
}

export interface GroupStatus {
  readonly name: string;
  /** An implicit group of one for a stand-alone resource. */
  readonly standalone: boolean;
  readonly placement: Placement;
  /** What the integration last said (initially: true for everywhere, false otherwise). */
  readonly placementAllowed: boolean;
  /** May run here: placement allowed, node not in standby, not banned. */
  readonly allowedHere: boolean;
  readonly banned: boolean;
  readonly banReason: string | null;
  readonly members: readonly string[];
  /** Members in state started. */
  readonly running: readonly string[];
}

export interface ResourceManagerStatus {
  readonly node: { readonly standby: boolean; readonly maintenance: boolean; readonly startedUp: boolean };
  readonly resources: readonly ResourceStatus[];
  readonly groups: readonly GroupStatus[];
}
