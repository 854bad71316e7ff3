/**
 * ProtoDownSwitch on a real macvlan, in a lab namespace: a frame sent right after
 * "protodown off" leaves the link. Lifting protodown turns the carrier on at once, but the
 * link transmits only once the kernel's link watch has swapped its noop qdisc for the real
 * one, on a kworker, later; a new master's first advert and gratuitous ARPs raced that and
 * were dropped without an error (the daemon's VMAC lab test saw a dual master at start).
 * ProtoDownSwitch follows "off" with an RTM_GETLINK in the same sendmsg, which (Linux
 * ≥ 6.8) runs the link watch for the link before answering.
 *
 * The same trials through a bare protodown request (no RTM_GETLINK) are reported as a
 * figure, not asserted: how many of those frames the kernel drops depends on how soon its
 * kworker runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { release } from 'node:os';
import { labSkipReason, withLab, type Lab } from '../src/lab/netns.js';
import { inNetns } from '../src/lab/inject.js';
import { PacketSocket } from '../src/net/packet-socket.js';
import { ProtoDownSwitch, protoDownRequest } from '../src/netlink/proto-down.js';
import { nativeTransport } from '../src/netlink/transport.js';
import { native } from '../src/native/index.js';
import { sleep } from '../src/lab/wait.js';

/** IEEE 802 local experimental ethertype: nothing else in the lab sends it. */
const ETHERTYPE = 0x88b5;
const VMAC = '00:00:5e:00:01:3a';
const TRIALS = 100;

function kernelSkip(): string | false {
  const [major = 0, minor = 0] = release().split('.').map((x) => Number.parseInt(x, 10));
  return major > 6 || (major === 6 && minor >= 8) ? false : `kernel ${release()}: rtnl_getlink runs the link watch since 6.8`;
}

const skip = labSkipReason([]) || kernelSkip();

function frame(trial: number): Buffer {
  const f = Buffer.alloc(60);
  f.fill(0xff, 0, 6);
  Buffer.from(VMAC.replaceAll(':', ''), 'hex').copy(f, 6);
  f.writeUInt16BE(ETHERTYPE, 12);
  f.writeUInt32BE(trial, 14);
  return f;
}

/** Trial numbers received on b's eth0. */
function receiver(lab: Lab): { got: Set<number>; close(): void } {
  const got = new Set<number>();
  const socket = inNetns(lab.host('b').ns, () =>
    PacketSocket.open({ interface: 'eth0', receive: { protocol: ETHERTYPE, onFrame: (f) => got.add(Buffer.from(f).readUInt32BE(14)) } }),
  );
  return { got, close: () => socket.close() };
}

test('lab: a frame sent right after ProtoDownSwitch lifts protodown on a macvlan leaves it, every time', { skip, timeout: 60_000 }, async (t) => {
  await withLab({ hosts: ['a', 'b'] }, async (lab) => {
    await lab.exec('a', 'ip', ['link', 'add', 'link', 'eth0', 'name', 'pd0', 'address', VMAC, 'type', 'macvlan', 'mode', 'private']);
    await lab.exec('a', 'ip', ['link', 'set', 'pd0', 'protodown', 'on']);
    await lab.exec('a', 'ip', ['link', 'set', 'pd0', 'up']);
    const index = inNetns(lab.host('a').ns, () => native().ifNameToIndex('pd0'));
    const troubles: string[] = [];
    const pd = inNetns(lab.host('a').ns, () => new ProtoDownSwitch((m) => troubles.push(m)));
    const bare = inNetns(lab.host('a').ns, () => nativeTransport({ groups: 0 }));
    bare.start({ datagram: () => undefined, error: (e) => troubles.push(`bare: ${String(e)}`) });
    const sender = inNetns(lab.host('a').ns, () => PacketSocket.open({ interface: 'pd0' }));
    const rx = receiver(lab);
    try {
      // With protodown on nothing leaves (the switch's premise).
      pd.set(index, true);
      await sleep(50);
      sender.send(frame(1_000_000));
      await sleep(100);
      assert.equal(rx.got.has(1_000_000), false, 'a frame sent in protodown left the macvlan');

      const run = async (first: number, lift: () => void, took: number[]): Promise<number[]> => {
        for (let i = first; i < first + TRIALS; i++) {
          pd.set(index, true);
          // The link watch of "on" (an urgent event for a stacked link) runs within this.
          await sleep(15);
          const started = performance.now();
          lift();
          took.push(performance.now() - started);
          sender.send(frame(i));
          await sleep(5);
        }
        // Whatever left has reached b well within this (one veth hop and a bridge).
        await sleep(200);
        const lost: number[] = [];
        for (let i = first; i < first + TRIALS; i++) if (!rx.got.has(i)) lost.push(i - first);
        return lost;
      };

      let seq = 1;
      const bareTook: number[] = [];
      const took: number[] = [];
      const bareLost = await run(10_000, () => bare.send(protoDownRequest(index, false, seq++)), bareTook);
      const lost = await run(20_000, () => pd.set(index, false), took);
      const median = (xs: number[]): string => ((xs.sort((x, y) => x - y)[xs.length >> 1] ?? 0) * 1000).toFixed(0);
      t.diagnostic(`frames sent right after protodown off and lost: ${lost.length} of ${TRIALS} with the RTM_GETLINK; ${bareLost.length} of ${TRIALS} with a bare request`);
      t.diagnostic(`protodown off, median of ${TRIALS}: ${median(took)} µs with the RTM_GETLINK, ${median(bareTook)} µs bare`);
      assert.deepEqual(lost, [], `trials whose frame never reached b: ${lost.join(', ')}`);
      assert.deepEqual(troubles, []);
    } finally {
      rx.close();
      sender.close();
      bare.close();
      pd.close();
    }
  });
});
