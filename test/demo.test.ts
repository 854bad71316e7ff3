/**
 * `vigil demo`: the namespace demo once, end to end (three real daemons, a client pinging
 * the VIP, a capture), checked on the timeline it reports; and the command's other modes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { demoPrerequisites, masterDownIntervalMs, runNamespaceDemo, skewTimeMs } from '../src/lab/demo.js';
import { runCli, type CliIo } from '../src/cli/main.js';

const missing = demoPrerequisites();

function namespacesWith(prefix: string): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(prefix));
}

function fakeIo(): CliIo & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    stdout: (t: string) => void (io.out += t),
    stderr: (t: string) => void (io.err += t),
    readStdin: () => Promise.resolve(''),
  };
  return io;
}

test('demo: the namespace demo elects a, fails over to b within Master_Down_Interval on kill -9, hands over to c within Skew_Time on SIGTERM, and leaves nothing behind', { skip: missing ?? false, timeout: 60_000 }, async () => {
  const lines: string[] = [];
  const started = Date.now();
  const report = await runNamespaceDemo({ intervalMs: 1000, say: (l) => lines.push(l) });
  const took = Date.now() - started;
  const text = lines.join('\n');
  const I = report.intervalMs;
  const margin = 250;

  assert.ok(took < 60_000, `the demo took ${took} ms`);
  assert.equal(report.electedMaster, 'a');
  assert.match(text, /1\. election/);
  assert.match(text, /2\. crash/);
  assert.match(text, /3\. handover/);

  // Crash: b's Master_Down_Timer runs from a's last advert: 3 × 1000 + (256 − 100) × 1000 / 256 = 3609.4 ms.
  const c = report.crash;
  const mdi = masterDownIntervalMs(100, I);
  assert.equal(c.expectedMs, mdi);
  assert.deepEqual([c.oldMaster, c.newMaster, c.signal, c.exitStatus], ['a', 'b', 'SIGKILL', 'SIGKILL']);
  assert.ok(c.lastAdvertMs <= c.signalAtMs + 5, 'a advertised nothing after the kill');
  assert.ok(c.takeoverMs >= mdi - 10 && c.takeoverMs <= mdi + margin, `takeover ${c.takeoverMs.toFixed(1)} ms after a's last advert (Master_Down_Interval ${mdi.toFixed(1)} ms)`);
  assert.ok(c.firstAdvertMs > c.signalAtMs && c.firstAdvertMs - c.signalAtMs <= mdi + margin);
  assert.ok(c.garpMs >= c.firstAdvertMs - 10 && c.garpMs - c.firstAdvertMs <= 100, `gratuitous ARP ${(c.garpMs - c.firstAdvertMs).toFixed(1)} ms after b's first advert`);
  assert.ok(c.pingGapMs > 0 && c.pingGapMs <= c.takeoverMs + margin, `pings unanswered for ${c.pingGapMs.toFixed(1)} ms`);
  assert.ok(c.firstReplyMs >= c.garpMs - 10, 'the first reply from b comes after its gratuitous ARP');
  assert.ok(c.pingsLost > 0 && c.pingsLost <= Math.ceil(c.pingGapMs / 10) + 5, `${c.pingsLost} pings lost in ${c.pingGapMs.toFixed(1)} ms`);

  // Graceful: priority 0, so c waits only Skew_Time = (256 − 50) × 1000 / 256 = 804.7 ms.
  const g = report.graceful;
  const skew = skewTimeMs(50, I);
  assert.deepEqual([g.oldMaster, g.newMaster, g.signal, g.exitStatus], ['b', 'c', 'SIGTERM', 0]);
  assert.ok(g.zeroAdvertMs !== undefined && g.zeroAdvertMs >= g.signalAtMs - 5 && g.zeroAdvertMs - g.signalAtMs < 1000, 'b sent priority 0 on SIGTERM');
  assert.ok(g.takeoverMs >= skew - 10 && g.takeoverMs <= skew + margin, `takeover ${g.takeoverMs.toFixed(1)} ms after priority 0 (Skew_Time ${skew.toFixed(1)} ms)`);
  assert.ok(g.takeoverMs < mdi, 'a handover is faster than a crash');
  assert.ok(g.garpMs >= g.firstAdvertMs - 10 && g.garpMs - g.firstAdvertMs <= 100);
  assert.ok(g.pingGapMs > 0 && g.pingGapMs <= skew + margin, `pings unanswered for ${g.pingGapMs.toFixed(1)} ms`);

  // Nothing left: namespaces, files.
  assert.equal(report.cleanedUp, true);
  assert.equal(report.namespaces.length, 5);
  assert.ok(report.namespaces.every((n) => n.startsWith(report.prefix)));
  assert.deepEqual(namespacesWith(report.prefix), []);
  assert.equal(existsSync(report.workDir), false, `${report.workDir} removed`);
});

test('demo: --simulated still runs the simulator; bad options are usage errors', async () => {
  const io = fakeIo();
  assert.equal(await runCli(['demo', '--simulated', '--interval-ms', '100'], io), 0);
  assert.match(io.out, /simulated segment/);
  assert.match(io.out, /final: master/);
  const bad = fakeIo();
  assert.equal(await runCli(['demo', '--interval-ms', '15'], bad), 2);
  assert.match(bad.err, /multiple of 10/);
  const help = fakeIo();
  assert.equal(await runCli(['demo', '--help'], help), 0);
  assert.match(help.out, /network namespaces/);
});
