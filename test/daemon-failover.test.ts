/**
 * The daemon in the lab: real `vigil run` processes on hosts in network namespaces,
 * checked through captured packets (tcpdump on the client), addresses seen with `ip`,
 * and the daemons' own status over their control sockets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab } from '../src/lab/netns.js';
import { Capture, gratuitousArps, vrrpAdverts } from '../src/lab/capture.js';
import { VigilProcess, configYaml, holders, instanceYaml, waitHolders } from '../src/lab/vigil.js';
import { sleep } from '../src/lab/wait.js';
import { labSkipReason } from '../src/lab/netns.js';

const skip = labSkipReason();

const VIP = '10.213.0.100';

test('daemon: cold start elects the highest priority; kill -9 of the master moves the VIP with gratuitous ARP within Master_Down_Interval', { skip }, async () => {
  await withLab({ hosts: ['a', 'b', 'client'] }, async (lab) => {
    const a = await VigilProcess.start(lab, 'a', configYaml(instanceYaml({ vrid: 51, priority: 200, vips: [`${VIP}/24`] })));
    const b = await VigilProcess.start(lab, 'b', configYaml(instanceYaml({ vrid: 51, priority: 100, vips: [`${VIP}/24`] })));
    try {
      await a.waitState('gw', 'master');
      await b.waitState('gw', 'backup');
      await waitHolders(lab, ['a', 'b'], VIP, ['a']);
      await sleep(250);
      const bStatus = await b.instance('gw');
      assert.equal(bStatus.state, 'backup');
      assert.equal(bStatus.master?.address, lab.host('a').ipv4);

      const cap = await Capture.start(lab, 'client');
      await sleep(300);
      a.signal('SIGKILL');
      await a.waitExit();
      await b.waitState('gw', 'master', 5000);
      await waitHolders(lab, ['b'], VIP, ['b']);
      await sleep(200);
      const frames = await cap.stop();
      const adverts = vrrpAdverts(frames);
      const lastFromA = adverts.filter((x) => x.src.text === lab.host('a').ipv4).at(-1);
      const firstFromB = adverts.find((x) => x.src.text === lab.host('b').ipv4);
      assert.ok(lastFromA && firstFromB, 'adverts from both');
      const garp = gratuitousArps(frames).find((g) => g.ip === VIP && g.senderMac === lab.host('b').mac);
      assert.ok(garp, 'b sent gratuitous ARP for the VIP');
      // RFC 5798 §6.1: Master_Down_Interval = 3 × 100 ms + (256 − 100) × 100 ms / 256 = 360.9 ms.
      const down = 360.9;
      const took = firstFromB.timeMs - lastFromA.timeMs;
      assert.ok(took >= down - 5 && took <= down + 60, `takeover ${took.toFixed(1)} ms after the last advert (Master_Down_Interval ${down} ms)`);
      assert.ok(garp.timeMs - lastFromA.timeMs <= down + 60, `gratuitous ARP ${(garp.timeMs - lastFromA.timeMs).toFixed(1)} ms after`);
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});

test('daemon: SIGTERM sends priority 0 and removes the VIP; the backup takes over within Skew_Time; exit status 0', { skip }, async () => {
  await withLab({ hosts: ['a', 'b', 'client'] }, async (lab) => {
    const a = await VigilProcess.start(lab, 'a', configYaml(instanceYaml({ vrid: 52, priority: 200, vips: [`${VIP}/24`] })));
    const b = await VigilProcess.start(lab, 'b', configYaml(instanceYaml({ vrid: 52, priority: 100, vips: [`${VIP}/24`] })));
    try {
      await a.waitState('gw', 'master');
      await waitHolders(lab, ['a', 'b'], VIP, ['a']);
      const cap = await Capture.start(lab, 'client');
      await sleep(200);
      a.signal('SIGTERM');
      assert.equal(await a.waitExit(), 0);
      assert.deepEqual(await holders(lab, ['a'], VIP), [], 'a removed the VIP before exiting');
      await b.waitState('gw', 'master', 3000);
      await sleep(100);
      const adverts = vrrpAdverts(await cap.stop());
      const zero = adverts.find((x) => x.src.text === lab.host('a').ipv4 && x.priority === 0);
      const firstFromB = adverts.find((x) => x.src.text === lab.host('b').ipv4);
      assert.ok(zero, `a sent a priority-0 advert; captured ${JSON.stringify(adverts.map((x) => [x.src.text, x.priority, x.timeMs]))}`);
      assert.ok(firstFromB, 'b advertised');
      // RFC 5798 §6.4.2: on priority 0, Master_Down_Timer = Skew_Time = (256 − 100) × 100 / 256 = 60.9 ms.
      const took = firstFromB.timeMs - zero.timeMs;
      assert.ok(took >= 55 && took <= 60.9 + 50, `takeover ${took.toFixed(1)} ms after priority 0 (Skew_Time 60.9 ms)`);
      await waitHolders(lab, ['a', 'b'], VIP, ['b']);
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});
