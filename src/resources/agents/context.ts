/**
 * What an agent needs from the daemon besides its spec: the resource's name, where its
 * state lives, and the knobs tests (and the manager) may turn.
 */
import type { Netlink } from '../../netlink/index.js';

/** Sends whole Ethernet frames on one interface (PacketSocket by default). */
export interface FrameSink {
  send(frame: Uint8Array): void;
  close(): void;
}

export interface AgentContext {
  /** The resource's name: OCF_RESOURCE_INSTANCE, and the stem of an exec resource's files. */
  readonly name: string;
  /**
   * Where exec resources keep NAME.pid and NAME.log; created (0700) when missing. It must
   * outlive a restart of the daemon for reattaching to work, and should not outlive a
   * reboot (e.g. /run/vigil-resources; not a RuntimeDirectory systemd removes on stop).
   */
  readonly stateDir: string;
  readonly vip?: VipOptions;
  readonly exec?: ExecOptions;
  readonly systemd?: SystemdOptions;
  readonly ocf?: OcfOptions;
}

export interface VipOptions {
  /** A shared rtnetlink handle; else the agent opens its own on first use (and `close()` closes it). */
  readonly netlink?: Netlink;
  /** Gratuitous ARPs / unsolicited NAs after a start: 5 (IPaddr2's arp_count). */
  readonly arpCount?: number;
  /** Between them: 200 ms (IPaddr2's arp_interval). */
  readonly arpIntervalMs?: number;
  /** Opens the frame socket on an interface; PacketSocket.open by default. */
  readonly openFrames?: (ifname: string) => FrameSink;
}

export interface ExecOptions {
  /** How long the process must stay alive for a start to succeed: 500 ms (the spec's settleMs wins). */
  readonly settleMs?: number;
  /** Environment the command inherits before the spec's env; the daemon's own by default. */
  readonly baseEnv?: NodeJS.ProcessEnv;
}

export interface SystemdOptions {
  /** The systemctl program: "systemctl" on PATH. */
  readonly systemctl?: string;
  /** Present only where systemd is PID 1: /run/systemd/system (sd_booted()). */
  readonly runDir?: string;
}

export interface OcfOptions {
  /** OCF_ROOT: $OCF_ROOT of the daemon's environment, else /usr/lib/ocf. */
  readonly root?: string;
  /** HA_LOGFILE for the agents; unset, agents log to stderr (which vigil reads). */
  readonly logFile?: string;
}
