/**
 * A delay for the lab without sch_netem or NFQUEUE (this kernel has neither): a relay in
 * the switch's namespace. The host's port leaves the bridge; a new veth pair joins it; two
 * AF_PACKET sockets (ETH_P_ALL) pass every frame between the host's port and the new pair,
 * each after `delayMs` (both directions, ARP included, order kept). The heal lets what is
 * held go at once and puts the port back on the bridge.
 *
 * The relay runs on this process's event loop: the delay is the one asked for plus the
 * loop's lateness; stop() reports the delays applied.
 */
import { AF_PACKET } from '../net/af.js';
import { htons, parseSockaddr, sockaddrLl } from '../net/sockaddr.js';
import { SOCK_RAW, native, type PollHandle } from '../native/index.js';
import { inNetns } from './inject.js';
import { run, type Lab } from './netns.js';

const ETH_P_ALL = 0x0003;
/** sockaddr_ll.sll_pkttype of a frame this host sent (linux/if_packet.h). */
const PACKET_OUTGOING = 4;

export interface DelayStats {
  readonly frames: number;
  readonly minMs: number;
  readonly maxMs: number;
}

interface Side {
  readonly fd: number;
  poll?: PollHandle;
}

export class FrameDelay {
  private frames = 0;
  private minMs = Infinity;
  private maxMs = 0;
  private closed = false;
  private readonly held = new Map<NodeJS.Timeout, () => void>();

  private constructor(
    private readonly lab: Lab,
    private readonly port: string,
    private readonly relayPort: string,
    private readonly a: Side,
    private readonly b: Side,
  ) {}

  /** Delays every frame to and from `host` by `delayMs`. */
  static async start(lab: Lab, host: string, delayMs: number): Promise<FrameDelay> {
    const index = lab.host(host).index;
    const port = `p${index}`;
    const relayPort = `q${index}`;
    const sw = (args: readonly string[]): Promise<unknown> => run('ip', ['-n', lab.switchNs, ...args]);
    await sw(['link', 'add', relayPort, 'type', 'veth', 'peer', 'name', `r${index}`]);
    await sw(['link', 'set', `r${index}`, 'master', 'br0', 'up']);
    await sw(['link', 'set', relayPort, 'up']);
    await sw(['link', 'set', port, 'promisc', 'on']);
    await sw(['link', 'set', relayPort, 'promisc', 'on']);
    const n = native();
    const open = (ifname: string): Side =>
      inNetns(lab.switchNs, () => {
        const fd = n.socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
        n.bind(fd, sockaddrLl({ protocol: ETH_P_ALL, ifindex: n.ifNameToIndex(ifname) }));
        return { fd };
      });
    const a = open(port);
    const b = open(relayPort);
    const relay = new FrameDelay(lab, port, relayPort, a, b);
    a.poll = n.poll(a.fd, () => relay.drain(a, b, delayMs));
    b.poll = n.poll(b.fd, () => relay.drain(b, a, delayMs));
    // From here the host's frames go through the relay only.
    await sw(['link', 'set', port, 'nomaster']);
    return relay;
  }

  private drain(from: Side, to: Side, delayMs: number): void {
    const n = native();
    for (let i = 0; i < 64 && !this.closed; i++) {
      const received = n.recvmsg(from.fd, 65536, 0);
      if (received === null) return;
      const ll = parseSockaddr(received.from);
      if (ll.kind === 'packet' && ll.pkttype === PACKET_OUTGOING) continue;
      const frame = Buffer.from(received.data);
      const arrived = performance.now();
      const send = (): void => {
        try {
          n.sendto(to.fd, frame, null);
        } catch {
          // a frame the other side cannot take (too long): dropped, as a switch would
        }
      };
      const timer = setTimeout(() => {
        this.held.delete(timer);
        if (this.closed) return;
        send();
        const ms = performance.now() - arrived;
        this.frames++;
        this.minMs = Math.min(this.minMs, ms);
        this.maxMs = Math.max(this.maxMs, ms);
      }, delayMs);
      this.held.set(timer, send);
    }
  }

  /** Puts the port back on the bridge, lets what is held go (in order), ends the relay. */
  async stop(): Promise<DelayStats> {
    const sw = (args: readonly string[], allowFailure = false): Promise<unknown> => run('ip', ['-n', this.lab.switchNs, ...args], allowFailure);
    await sw(['link', 'set', this.port, 'master', 'br0']);
    for (const [timer, send] of this.held) {
      clearTimeout(timer);
      send();
    }
    this.held.clear();
    this.closed = true;
    const n = native();
    for (const side of [this.a, this.b]) {
      side.poll?.stop();
      n.close(side.fd);
    }
    await sw(['link', 'set', this.port, 'promisc', 'off'], true);
    await sw(['link', 'del', this.relayPort], true);
    return { frames: this.frames, minMs: this.frames === 0 ? 0 : this.minMs, maxMs: this.maxMs };
  }
}

/** After a failure: `host`'s port back on the bridge and the relay's pair gone, whatever state a relay left (idempotent). */
export async function healDelay(lab: Lab, host: string): Promise<void> {
  const index = lab.host(host).index;
  await run('ip', ['-n', lab.switchNs, 'link', 'set', `p${index}`, 'master', 'br0'], true);
  await run('ip', ['-n', lab.switchNs, 'link', 'del', `q${index}`], true);
}
