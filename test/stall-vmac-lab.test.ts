/**
 * Issue 10 §1 and §2 in the lab (namespaces on one bridge, real `vigil run` daemons, a
 * client, captures):
 * - a backup frozen with SIGSTOP for 1 s and resumed, VIGIL_STALL_RUNS times (default 20):
 *   it never changes state (the adverts queued during the freeze are taken in before the
 *   expired Master_Down_Timer is acted on), and the client's neighbour entry for the VIP
 *   stays on the master;
 * - a backup's VMAC sends nothing from the virtual MAC over VIGIL_SILENT_SECONDS (default
 *   10; 60 in the long form), with the client ARPing for the VIP; after a takeover it does
 *   send (the capture sees it, so the silence is not an artefact of the filter).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labSkipReason, withLab, type Lab } from '../src/lab/netns.js';
import { Capture } from '../src/lab/capture.js';
import { sleep, until } from '../src/lab/wait.js';
import { formatMac } from '../src/net/mac.js';
import { VigilProcess, configYaml, instanceYaml, waitHolders } from '../src/lab/vigil.js';

const skip = labSkipReason(['tcpdump']);
const VIP = '10.213.0.100';

function envCount(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? Math.floor(v) : fallback;
}

async function neighbourMac(lab: Lab, host: string, address: string): Promise<string | undefined> {
  const r = await lab.exec(host, 'ip', ['-j', 'neigh', 'show', address], true);
  if (r.code !== 0 || !r.stdout.trim()) return undefined;
  const entries = JSON.parse(r.stdout) as { dst: string; lladdr?: string }[];
  return entries.find((e) => e.dst === address)?.lladdr?.toLowerCase();
}

async function macOf(lab: Lab, host: string): Promise<string> {
  const r = await lab.exec(host, 'cat', ['/sys/class/net/eth0/address']);
  return r.stdout.trim().toLowerCase();
}

const RUNS = envCount('VIGIL_STALL_RUNS', 20);

test(`lab: a backup frozen 1 s (SIGSTOP/SIGCONT) ${RUNS} times never changes state; the client stays on the master`, { skip, timeout: 60_000 + RUNS * 4000 }, async (t) => {
  await withLab({ hosts: ['a', 'b', 'client'] }, async (lab) => {
    const a = await VigilProcess.start(lab, 'a', configYaml(instanceYaml({ vrid: 61, priority: 200, vips: [`${VIP}/24`] })));
    let b: VigilProcess | undefined;
    const ping = lab.spawn('client', 'ping', ['-n', '-D', '-i', '0.05', '-W', '1', '-w', String(30 + RUNS * 3), VIP]);
    let out = '';
    ping.stdout?.setEncoding('utf8');
    ping.stdout?.on('data', (d: string) => (out += d));
    try {
      await a.waitState('gw', 'master');
      b = await VigilProcess.start(lab, 'b', configYaml(instanceYaml({ vrid: 61, priority: 100, vips: [`${VIP}/24`] })));
      await b.waitState('gw', 'backup');
      await waitHolders(lab, ['a', 'b'], VIP, ['a']);
      const macA = await macOf(lab, 'a');
      await until(async () => (await neighbourMac(lab, 'client', VIP)) === macA, () => 'the client learns the VIP at a', 5000);
      const changesBefore = b.stateChanges('gw').length;
      const wrongNeighbour: string[] = [];
      for (let i = 0; i < RUNS; i++) {
        b.signal('SIGSTOP');
        await sleep(1000);
        b.signal('SIGCONT');
        // Sample the client's neighbour entry through the next half second.
        for (let k = 0; k < 5; k++) {
          await sleep(100);
          const mac = await neighbourMac(lab, 'client', VIP);
          if (mac !== undefined && mac !== macA) wrongNeighbour.push(`run ${i}: ${mac}`);
        }
      }
      const changes = b.stateChanges('gw').slice(changesBefore);
      const seqs = [...out.matchAll(/icmp_seq=(\d+)/g)].map((m) => Number(m[1]));
      const lost = seqs.length > 0 ? Math.max(...seqs) - new Set(seqs).size : -1;
      t.diagnostic(`${RUNS} freezes of 1 s: ${changes.length} state changes on the backup; neighbour entry off the master: ${wrongNeighbour.length}; pings answered ${seqs.length}, lost ${lost}`);
      assert.deepEqual(changes.map((c) => `${String(c['from'])}->${String(c['to'])}`), [], 'the frozen backup changed state');
      assert.deepEqual(wrongNeighbour, [], "the client's neighbour entry left the master");
      assert.equal(await b.instance('gw').then((s) => s.state), 'backup');
      assert.equal(lost, 0, 'pings lost');
    } finally {
      if (ping.exitCode === null && ping.pid !== undefined) process.kill(ping.pid, 'SIGINT');
      b?.signal('SIGCONT');
      await Promise.all([a.stop(), b?.stop()]);
    }
  });
});

const SILENT_S = envCount('VIGIL_SILENT_SECONDS', 10);

for (const family of ['ipv4', 'ipv6'] as const) {
  test(`lab: a backup's ${family} VMAC sends nothing from the virtual MAC for ${SILENT_S} s (protodown); after a takeover it does`, { skip, timeout: 60_000 + SILENT_S * 1000 }, async (t) => {
    await withLab({ hosts: ['a', 'b', 'client'] }, async (lab) => {
      const VRID = family === 'ipv4' ? 62 : 63;
      const vmacMac = `00:00:5e:00:0${family === 'ipv4' ? 1 : 2}:${VRID.toString(16).padStart(2, '0')}`;
      const vmacName = `${family === 'ipv4' ? 'vrrp' : 'vrrp6'}.${VRID}`;
      const vip = family === 'ipv4' ? VIP : 'fd13::163';
      const vips = family === 'ipv4' ? [`${VIP}/24`] : ['fe80::13:1:163/64', `${vip}/64`];
      const yaml = (priority: number): string => configYaml(instanceYaml({ vrid: VRID, priority, vips, extra: '    vmac: true' }));
      const a = await VigilProcess.start(lab, 'a', yaml(200));
      let b: VigilProcess | undefined;
      let cap: Capture | undefined;
      try {
        await a.waitState('gw', 'master');
        // Capturing before b starts: its multicast joins (IGMP / MLD reports) happen at start.
        cap = await Capture.start(lab, 'b', `outbound and ether src ${vmacMac}`);
        b = await VigilProcess.start(lab, 'b', yaml(100));
        await b.waitState('gw', 'backup');
        const down = await lab.exec('b', 'ip', ['-d', 'link', 'show', 'dev', vmacName]);
        assert.match(down.stdout, /protodown on/, `the backup's VMAC is in protodown: ${down.stdout}`);
        if (family === 'ipv6') {
          // (The VMAC's name has a dot: read /proc rather than sysctl's dotted keys.)
          const conf = async (key: string): Promise<string> => (await lab.exec('b', 'cat', [`/proc/sys/net/ipv6/conf/${vmacName}/${key}`])).stdout.trim();
          assert.equal(await conf('accept_ra'), '0', 'no router advertisement accepted on the VMAC');
          assert.equal(await conf('addr_gen_mode'), '1', 'no address generated from the virtual MAC');
        }
        const deadline = Date.now() + SILENT_S * 1000;
        // Meanwhile the client keeps asking for the VIP (ARP requests / neighbour
        // solicitations reach b's VMAC too).
        while (Date.now() < deadline) {
          await lab.exec('client', 'ip', ['neigh', 'flush', 'dev', 'eth0'], true);
          await lab.exec('client', 'ping', ['-n', '-c', '1', '-W', '1', vip], true);
          await sleep(500);
        }
        const silent = cap.frames();
        t.diagnostic(`${family}: ${SILENT_S} s as backup: ${silent.length} frames from ${vmacMac} left b`);
        assert.deepEqual(silent.map((f) => `${formatMac(f.bytes, 6)} ethertype ${f.bytes.readUInt16BE(12).toString(16)}`), [], 'frames from the virtual MAC left the backup');
        const own = await lab.exec('b', 'ip', ['-j', 'addr', 'show', 'dev', vmacName]);
        assert.ok(!own.stdout.toLowerCase().includes('5eff:fe00'), `no address derived from the virtual MAC on ${vmacName}: ${own.stdout}`);
        // Takeover: a dies; b lifts protodown, and its frames leave from the virtual MAC.
        a.signal('SIGKILL');
        await b.waitState('gw', 'master', 5000);
        await waitHolders(lab, ['b'], vip, ['b']);
        await until(async () => (await lab.exec('client', 'ping', ['-n', '-c', '1', '-W', '1', vip], true)).code === 0, () => 'ping the VIP at b', 5000);
        const lifted = b.events.find((e) => e.event === 'vmac-protodown' && e['on'] === false);
        t.diagnostic(`${family}: protodown lifted on takeover in ${String(lifted?.['ms'])} ms (the synchronous rtnetlink request before the first advert)`);
        assert.ok(lifted, 'protodown lifted on takeover');
        await sleep(300);
        const after = await cap.stop();
        cap = undefined;
        assert.ok(after.length > 0, 'after the takeover the capture sees frames from the virtual MAC');
        assert.equal(await neighbourMac(lab, 'client', vip), vmacMac);
      } finally {
        await cap?.stop();
        await Promise.all([a.stop(), b?.stop()]);
      }
    });
  });
}
