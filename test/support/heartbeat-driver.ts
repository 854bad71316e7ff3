/**
 * Runs a heartbeat node in the network namespace it is started in (the tests start it
 * with `ip netns exec`), for test/quorum-transport.test.ts: a HeartbeatTransport and the
 * whole receive path (decodeHeartbeat, then Membership).
 *
 *   node heartbeat-driver.js '{"cluster":"lab","key":"<base64>","nodeId":1,"nodes":[1,2,3],
 *                               "localAddress":"10.213.0.1","destination":{"kind":"multicast"}}'
 *
 * It prints JSON lines: {"event":"ready",...} once bound; for each datagram received
 * {"event":"received","source":…,"hex":…,"result":"accepted"|<rejection>,"events":[…]};
 * {"event":"sent",…} for each send; {"event":"error",…} for transport errors.
 * It reads commands, one JSON line each, on stdin:
 *   {"op":"beat"}                      encodes and sends its next heartbeat (sequence + 1)
 *   {"op":"send-hex","hex":"…"}        sends these bytes as they are (a replay, a forgery)
 *   {"op":"counters"}                  prints {"event":"counters",…}
 *   {"op":"quit"}                      closes the socket and exits
 * With "throwOnFirstMessage": true its handler throws on the first datagram.
 */
import { createInterface } from 'node:readline';
import { decodeHeartbeat, encodeHeartbeat, newBootEpoch } from '../../src/quorum/heartbeat.js';
import { Membership, type MembershipEvent } from '../../src/quorum/membership.js';
import { HeartbeatTransport, type HeartbeatDestination, type HeartbeatFamily } from '../../src/quorum/io/transport.js';
import { toNodeId, toVotes } from '../../src/quorum/types.js';
import { errorStackText } from '../../src/base/error-text.js';

interface DriverConfig {
  readonly cluster: string;
  readonly key: string;
  readonly nodeId: number;
  readonly nodes: readonly number[];
  readonly family?: HeartbeatFamily;
  readonly localAddress?: string;
  readonly interface?: string;
  readonly port?: number;
  readonly destination: HeartbeatDestination;
  readonly timeoutMs?: number;
  /** The message handler throws on the first datagram (to see the transport survive it). */
  readonly throwOnFirstMessage?: boolean;
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as DriverConfig;
  const key = Buffer.from(config.key, 'base64');
  const localId = toNodeId(config.nodeId);
  const membership = new Membership({
    nodes: config.nodes.map((n) => ({ id: toNodeId(n), name: `node${n}`, votes: toVotes(1) })),
    localId,
    timeoutMs: config.timeoutMs ?? 60000,
  });
  const epoch = newBootEpoch();
  let sequence = 0n;
  let thrown = false;
  const transport = await HeartbeatTransport.open({
    ...(config.family !== undefined ? { family: config.family } : {}),
    ...(config.localAddress !== undefined ? { localAddress: config.localAddress } : {}),
    ...(config.interface !== undefined ? { interface: config.interface } : {}),
    ...(config.port !== undefined ? { port: config.port } : {}),
    destination: config.destination,
    onMessage: (bytes, source, ageMs) => {
      if (config.throwOnFirstMessage === true && !thrown) {
        thrown = true;
        throw new Error('handler failure on purpose');
      }
      const now = performance.now();
      const decoded = decodeHeartbeat(bytes, key, config.cluster);
      let result: string;
      let events: readonly MembershipEvent[] = [];
      if (!decoded.ok) {
        membership.countRejection(decoded.reason);
        result = decoded.reason;
      } else {
        const outcome = membership.heartbeat(decoded.heartbeat, source.address, now, now - ageMs);
        result = outcome.accepted ? 'accepted' : outcome.reason;
        events = outcome.events;
      }
      print({ event: 'received', source, ageMs, hex: bytes.toString('hex'), result, events, members: membership.members().map((m) => m.id) });
    },
    onError: (error) => print({ event: 'error', operation: error.operation, message: error.message }),
  });
  print({ event: 'ready', localAddress: transport.localAddress, destinations: transport.destinations, epoch });

  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (!line.trim()) continue;
    const op = JSON.parse(line) as { op: string; hex?: string };
    if (op.op === 'beat') {
      sequence += 1n;
      const bytes = encodeHeartbeat(
        { cluster: config.cluster, report: { id: localId, expectedVotes: config.nodes.length, quorate: true, waitingForAll: false }, votes: toVotes(1), epoch, sequence },
        key,
      );
      const report = await transport.send(bytes);
      print({ event: 'sent', hex: bytes.toString('hex'), sequence, ...report });
    } else if (op.op === 'send-hex') {
      const report = await transport.send(Buffer.from(op.hex ?? '', 'hex'));
      print({ event: 'sent', hex: op.hex, ...report });
    } else if (op.op === 'counters') {
      print({ event: 'counters', ...membership.counters() });
    } else if (op.op === 'quit') {
      break;
    }
  }
  lines.close();
  await transport.close();
}

main().catch((e: unknown) => {
  process.stderr.write(`${errorStackText(e)}\n`);
  process.exitCode = 1;
});
