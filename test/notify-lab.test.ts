/**
 * Notifiers in the lab: real `vigil run` daemons in network namespaces.
 * - A two-node failover (start, link down on the master, link back, stop) runs the
 *   master/backup/fault/stop scripts and the generic one on each node, in order, with
 *   keepalived's arguments and the VIGIL_* environment; the FIFO gets keepalived's lines;
 *   `vigil events` shows the state changes.
 * - A script that sleeps 10 s does not delay the master's 10 ms adverts (only a generous
 *   bound is asserted; bench/notify.ts measures).
 * - The cloud floating-IP scenario: unicast VRRP, the "floating IP" moved through an HTTP
 *   API (a small server in a namespace of its own, standing in for the cloud provider's)
 *   by a notify script, and again by an OCF agent in the style of DigitalOcean's floatip
 *   (test/fixtures/ocf/floatip) that vigil's resource manager runs in a group on the VRRP
 *   master; the API sees exactly one assignment per failover, from the new master, and
 *   Debian's ocf-tester passes the agent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { execFile } from 'node:child_process';
import { withLab, type Lab } from '../src/lab/netns.js';
import { Capture, vrrpAdverts } from '../src/lab/capture.js';
import { VIGIL_MAIN, VigilProcess, configYaml, instanceYaml } from '../src/lab/vigil.js';
import { labSkipReason } from '../src/lab/netns.js';
import { sleep, until } from '../src/lab/wait.js';
import { controlRequest } from '../src/daemon/control.js';

const execFileAsync = promisify(execFile);
const skip = labSkipReason();
const TEST_TIMEOUT = 120_000;
const VIP = '10.213.0.100';

function scriptsDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'vigil-notify-lab-'));
}

function script(dir: string, name: string, body: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, `#!/bin/sh\n${body}\n`);
  chmodSync(p, 0o755);
  return p;
}

function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter((l) => l !== '') : [];
}

test('lab: a two-node failover runs master/backup/fault/stop scripts in order with the right arguments and environment; FIFO and vigil events follow', { skip, timeout: TEST_TIMEOUT }, async (t) => {
  const dir = scriptsDir();
  try {
    await withLab({ hosts: ['a', 'b'] }, async (lab) => {
      const notify = (host: string): string => {
        const log = path.join(dir, `${host}.log`);
        const body = (what: string): string => `echo "${what} $*|$VIGIL_STATE|$VIGIL_PREVIOUS_STATE|$VIGIL_PRIORITY|$VIGIL_REASON|$VIGIL_MASTER" >> ${log}`;
        const s = ['master', 'backup', 'fault', 'stop'].map((k) => `${k}: ${script(dir, `${host}-${k}.sh`, body(k))}`);
        return `    notify: { ${s.join(', ')}, any: ${script(dir, `${host}-any.sh`, body('any'))} }`;
      };
      const fifo = path.join(dir, 'b.fifo');
      const yamlA = configYaml(instanceYaml({ vrid: 71, priority: 200, vips: [`${VIP}/24`], extra: notify('a') }));
      const yamlB = configYaml(instanceYaml({ vrid: 71, priority: 100, vips: [`${VIP}/24`], extra: notify('b') })) + `notifiers:\n  fifo: { path: ${fifo} }\n`;
      // a first: a cold start together may let b be master for a moment before a's first advert.
      const a = await VigilProcess.start(lab, 'a', yamlA);
      await a.waitState('gw', 'master');
      const b = await VigilProcess.start(lab, 'b', yamlB);
      // A reader for b's FIFO (vigil made it; it exists once b has started).
      const fifoOut = path.join(dir, 'b.fifo.out');
      const reader = spawn('sh', ['-c', `exec cat ${fifo} > ${fifoOut}`], { stdio: 'ignore' });
      try {
        await a.waitState('gw', 'master');
        await b.waitState('gw', 'backup');
        let aMark = a.events.length;
        let bMark = b.events.length;
        await lab.link('a', false);
        await a.waitState('gw', 'fault', 5000, aMark);
        await b.waitState('gw', 'master', 5000, bMark);
        aMark = a.events.length;
        bMark = b.events.length;
        await lab.link('a', true);
        await a.waitState('gw', 'master', 10_000, aMark);
        await b.waitState('gw', 'backup', 5000, bMark);
        // vigil events on b shows its state changes.
        const ev = await execFileAsync(process.execPath, [VIGIL_MAIN, 'events', '--runtime-dir', b.runtimeDir]);
        const changes = ev.stdout.split('\n').filter((l) => l.includes(' instance-state gw: '));
        t.diagnostic(`vigil events on b:\n${changes.join('\n')}`);
        assert.deepEqual(changes.map((l) => /gw: (\S+ -> \S+)/.exec(l)?.[1]), ['INITIALIZE -> BACKUP', 'BACKUP -> MASTER', 'MASTER -> BACKUP']);
        // vigil status on b reports the notifiers.
        const st = await execFileAsync(process.execPath, [VIGIL_MAIN, 'status', '--runtime-dir', b.runtimeDir]);
        assert.match(st.stdout, /notifiers:\n  scripts: 0 running, 0 waiting \(most \d+\), 6 started, 0 failed, 0 timed out, 0 refused\n  fifo .*b\.fifo: 3 lines written, 0 waiting for the reader \(most \d+\), 0 lost/);
        await Promise.all([a.stop(), b.stop()]);
      } finally {
        await Promise.all([a.stop(), b.stop()]);
        reader.kill('SIGKILL');
      }
      const ipA = lab.host('a').ipv4;
      const ipB = lab.host('b').ipv4;
      const pairs = (specific: string, state: string, prev: string, prio: number, reason: string, master: string): string[] => [
        `${specific} |${state}|${prev}|${prio}|${reason}|${master}`,
        `any INSTANCE gw ${state} ${prio}|${state}|${prev}|${prio}|${reason}|${master}`,
      ];
      const logA = lines(path.join(dir, 'a.log'));
      const logB = lines(path.join(dir, 'b.log'));
      t.diagnostic(`a:\n${logA.join('\n')}\nb:\n${logB.join('\n')}`);
      // a: BACKUP at start, MASTER, FAULT (link down), BACKUP, MASTER (preempt), STOP.
      assert.deepEqual(logA.map((l) => l.split('|')[0]), [
        'backup ', 'any INSTANCE gw BACKUP 200',
        'master ', 'any INSTANCE gw MASTER 200',
        'fault ', 'any INSTANCE gw FAULT 200',
        'backup ', 'any INSTANCE gw BACKUP 200',
        'master ', 'any INSTANCE gw MASTER 200',
        'stop ', 'any INSTANCE gw STOP 200',
      ]);
      assert.deepEqual(logA.slice(2, 4), pairs('master', 'MASTER', 'BACKUP', 200, logA[2]?.split('|')[4] ?? '', ipA));
      assert.equal(logA[4]?.split('|').slice(1, 5).join('|'), 'FAULT|MASTER|200|fault');
      assert.equal(logA[10]?.split('|').slice(1, 5).join('|'), 'STOP|MASTER|200|shutdown');
      // b: BACKUP, MASTER (a's link went down), BACKUP (a preempted), STOP.
      assert.deepEqual(logB.map((l) => l.split('|')[0]), [
        'backup ', 'any INSTANCE gw BACKUP 100',
        'master ', 'any INSTANCE gw MASTER 100',
        'backup ', 'any INSTANCE gw BACKUP 100',
        'stop ', 'any INSTANCE gw STOP 100',
      ]);
      assert.deepEqual(logB.slice(2, 4), pairs('master', 'MASTER', 'BACKUP', 100, logB[2]?.split('|')[4] ?? '', ipB));
      assert.equal(logB[4]?.split('|').slice(1, 5).join('|'), 'BACKUP|MASTER|100|higher-priority-advert');
      assert.equal(logB[4]?.split('|')[5], ipA, 'the new master, as b knows it');
      assert.deepEqual(lines(fifoOut), ['INSTANCE "gw" BACKUP 100', 'INSTANCE "gw" MASTER 100', 'INSTANCE "gw" BACKUP 100', 'INSTANCE "gw" STOP 100']);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('lab: SIGHUP — a removed instance runs its deleted script, the FIFO writes every state after the reload, new scripts take over; vigil events --follow watches it and ends with the daemon', { skip, timeout: TEST_TIMEOUT }, async () => {
  const dir = scriptsDir();
  try {
    await withLab({ hosts: ['a'] }, async (lab) => {
      const log = path.join(dir, 'log');
      const body = (what: string): string => `echo "${what} $*" >> ${log}`;
      const old = script(dir, 'old.sh', body('old'));
      const fresh = script(dir, 'new.sh', body('new'));
      const del = script(dir, 'deleted.sh', body('deleted'));
      const fifo = path.join(dir, 'a.fifo');
      const notifiers = `notifiers:\n  fifo: { path: ${fifo}, write_states_on_reload: true }\n`;
      const gw2 = instanceYaml({ name: 'gw2', vrid: 75, priority: 150, vips: ['10.213.0.101/24'], extra: `    notify: { deleted: ${del}, any: ${old} }` });
      const a = await VigilProcess.start(lab, 'a', configYaml(instanceYaml({ vrid: 74, priority: 200, vips: [`${VIP}/24`], extra: `    notify: { any: ${old} }` }), gw2) + notifiers);
      const fifoOut = path.join(dir, 'fifo.out');
      const reader = spawn('sh', ['-c', `exec cat ${fifo} > ${fifoOut}`], { stdio: 'ignore' });
      let follow = '';
      const follower = spawn(process.execPath, [VIGIL_MAIN, 'events', '--follow', '--runtime-dir', a.runtimeDir], { stdio: ['ignore', 'pipe', 'inherit'] });
      follower.stdout.setEncoding('utf8');
      follower.stdout.on('data', (d: string) => (follow += d));
      const followerExit = new Promise<number | null>((resolve) => follower.once('exit', (code) => resolve(code)));
      try {
        await a.waitState('gw', 'master');
        await a.waitState('gw2', 'master');
        await until(() => lines(log).length === 4, () => `scripts: ${lines(log).join(' / ')}`);
        a.writeConfig(configYaml(instanceYaml({ vrid: 74, priority: 200, vips: [`${VIP}/24`], extra: `    notify: { any: ${fresh} }` })) + notifiers);
        const mark = a.events.length;
        a.signal('SIGHUP');
        await a.waitFor((e) => e.event === 'reloaded', 'reloaded', 10_000, mark);
        await until(() => lines(log).length === 6, () => `scripts: ${lines(log).join(' / ')}; events: ${follow}`);
        await until(() => follow.includes(' reloaded '), () => `vigil events --follow printed: ${follow}`);
        assert.match(follow, /instance-state gw2: MASTER -> INITIALIZE \(shutdown\)/);
        await a.stop();
        assert.equal(await followerExit, 0, 'vigil events --follow ends when the daemon stops');
      } finally {
        await a.stop();
        reader.kill('SIGKILL');
        follower.kill('SIGKILL');
      }
      const got = lines(log);
      // The first two (gw and gw2 becoming BACKUP/MASTER) in either instance's order; then the removal, then the stop with the new script.
      assert.deepEqual(got.slice(4), ['deleted ', 'old INSTANCE gw2 DELETED 150', 'new INSTANCE gw STOP 200']);
      assert.deepEqual(lines(log).slice(0, 4).sort(), ['old INSTANCE gw BACKUP 200', 'old INSTANCE gw MASTER 200', 'old INSTANCE gw2 BACKUP 150', 'old INSTANCE gw2 MASTER 150'].sort());
      const fifoLines = lines(fifoOut);
      const after = fifoLines.slice(fifoLines.indexOf('INSTANCE "gw2" DELETED 150'));
      assert.deepEqual(after, ['INSTANCE "gw2" DELETED 150', 'INSTANCE "gw" MASTER 200', 'INSTANCE "gw" STOP 200']);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('lab: a notify script that sleeps 10 s does not delay 10 ms adverts', { skip, timeout: TEST_TIMEOUT }, async (t) => {
  const dir = scriptsDir();
  try {
    await withLab({ hosts: ['a', 'b'] }, async (lab) => {
      const started = path.join(dir, 'started');
      const slow = script(dir, 'slow.sh', `date +%s.%N > ${started}; sleep 10`);
      const a = await VigilProcess.start(lab, 'a', configYaml(instanceYaml({ vrid: 72, priority: 200, interval: '10ms', vips: [`${VIP}/24`], extra: `    notify: { master: ${slow}, any: ${slow} }` })) + 'notifiers: { script_timeout: 20s }\n');
      try {
        await a.waitState('gw', 'master');
        await until(() => existsSync(started), () => 'the slow script started');
        const cap = await Capture.start(lab, 'b', 'vrrp');
        await sleep(3000);
        const frames = await cap.stop();
        const status = (await a.status()) as unknown as { notifiers: { scripts: { running: number; started: number } } };
        assert.equal(status.notifiers.scripts.running, 1, 'the script still sleeps');
        const times = vrrpAdverts(frames).map((x) => x.timeMs);
        assert.ok(times.length > 100, `${times.length} adverts in 3 s`);
        let worst = 0;
        for (let i = 1; i < times.length; i++) worst = Math.max(worst, (times[i] ?? 0) - (times[i - 1] ?? 0));
        t.diagnostic(`${times.length} adverts in 3 s while the script sleeps; worst gap ${worst.toFixed(1)} ms`);
        // Generous: a backup declares the master dead after 3 intervals + skew (~ 40 ms); a blocked engine would leave a 10 s gap.
        assert.ok(worst < 500, `worst advert gap ${worst.toFixed(1)} ms`);
      } finally {
        await a.stop();
      }
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * The stand-in for the cloud API (DigitalOcean's /v2/floating_ips routes): POST
 * .../actions {"type":"assign","droplet_id"|"droplet":ID} is logged with its sender and
 * takes effect 200 ms later (in the cloud an action completes asynchronously); GET
 * /v2/floating_ips/IP says which droplet holds it; GET /log lists the POSTs.
 */
const API_SERVER = `
const http = require('node:http');
const log = [];
let holder = null;
http.createServer((req, res) => {
  let body = '';
  req.on('data', (d) => (body += d));
  req.on('end', () => {
    if (req.method === 'POST' && req.url === '/v2/floating_ips/10.213.0.100/actions') {
      log.push({ from: req.socket.remoteAddress, body });
      let b = {};
      try { b = JSON.parse(body); } catch {}
      if (b.type === 'assign') setTimeout(() => (holder = b.droplet_id ?? b.droplet), 200);
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ action: { status: 'in-progress' } }));
    } else if (req.method === 'GET' && req.url === '/v2/floating_ips/10.213.0.100') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ floating_ip: { ip: '10.213.0.100', droplet: holder === null ? null : { id: holder } } }));
    } else if (req.url === '/log') {
      res.end(JSON.stringify(log));
    } else { res.writeHead(404); res.end(); }
  });
}).listen(8080, '0.0.0.0', () => console.log('listening'));
`;

/** Starts the stand-in API on lab host `host`; resolves once it listens. */
async function startApi(lab: Lab, host: string): Promise<void> {
  const server = lab.spawn(host, process.execPath, ['-e', API_SERVER]);
  await new Promise<void>((resolve, reject) => {
    server.stdout?.once('data', () => resolve());
    server.once('exit', () => reject(new Error('the API server exited')));
  });
}

/** The POSTs the API saw, with the sender's address. */
async function apiLog(lab: Lab, api: string): Promise<{ from: string; body: unknown }[]> {
  const r = await lab.exec('a', 'curl', ['-sf', '-m', '5', `http://${api}:8080/log`]);
  return (JSON.parse(r.stdout) as { from: string; body: string }[]).map((x) => ({ from: x.from.replace(/^::ffff:/, ''), body: JSON.parse(x.body) as unknown }));
}

test('lab: cloud floating IP — two nodes with unicast VRRP move it through an HTTP API by a notify script, one assignment per failover, from the new master', { skip, timeout: TEST_TIMEOUT }, async (t) => {
  const dir = scriptsDir();
  try {
    await withLab({ hosts: ['a', 'b', 'api'] }, async (lab) => {
      const api = lab.host('api').ipv4;
      const ipA = lab.host('a').ipv4;
      const ipB = lab.host('b').ipv4;
      await startApi(lab, 'api');
      // As DigitalOcean's floatip agent does: assign the floating IP to this droplet, on becoming master.
      const assign = script(dir, 'assign.sh', `exec curl -sf -m 5 -X POST -H 'content-type: application/json' -d "{\\"type\\":\\"assign\\",\\"droplet\\":\\"$VIGIL_MASTER\\"}" http://${api}:8080/v2/floating_ips/10.213.0.100/actions`);
      const cfg = (priority: number, peer: string): string =>
        configYaml(instanceYaml({ vrid: 73, priority, vips: ['10.213.0.200/32'], extra: `    unicast: { peers: [${peer}] }\n    notify: { master: ${assign} }` }));
      let a = await VigilProcess.start(lab, 'a', cfg(200, ipB));
      const b = await VigilProcess.start(lab, 'b', cfg(100, ipA));
      try {
        await a.waitState('gw', 'master');
        await b.waitState('gw', 'backup');
        await until(async () => (await apiLog(lab, api)).length === 1, () => 'the first assignment');
        // Failover 1: a's daemon stops; b takes over.
        await a.stop();
        await b.waitState('gw', 'master', 5000);
        await until(async () => (await apiLog(lab, api)).length === 2, () => 'the second assignment');
        // Failover 2: a returns and preempts.
        const bMark = b.events.length;
        a = await VigilProcess.start(lab, 'a', cfg(200, ipB));
        await a.waitState('gw', 'master', 5000);
        await b.waitState('gw', 'backup', 5000, bMark);
        await until(async () => (await apiLog(lab, api)).length === 3, () => 'the third assignment');
        await sleep(1000); // nothing more comes
        const log = await apiLog(lab, api);
        t.diagnostic(JSON.stringify(log));
        assert.deepEqual(
          log.map((x) => [x.from, x.body]),
          [
            [ipA, { type: 'assign', droplet: ipA }],
            [ipB, { type: 'assign', droplet: ipB }],
            [ipA, { type: 'assign', droplet: ipA }],
          ],
        );
      } finally {
        await Promise.all([a.stop(), b.stop()]);
      }
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The floatip fixture, in the style of DigitalOcean's ocf:digitalocean:floatip agent. */
const FLOATIP = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'test', 'fixtures', 'ocf', 'floatip');
const OCF_LIB = '/usr/lib/ocf/lib/heartbeat';

function ocfSkip(): string | false {
  if (skip) return skip;
  for (const tool of [`${OCF_LIB}/ocf-shellfuncs`, '/usr/sbin/ocf-tester', '/usr/bin/xmllint', '/usr/bin/curl']) {
    if (!existsSync(tool)) return `${tool} is not installed (apt-get install resource-agents libxml2-utils curl)`;
  }
  return false;
}

/**
 * An OCF_ROOT of the test's own (root-owned, 0755, so ocf-tester's run as nobody can read
 * the agent): resource.d/vigiltest/floatip, and lib -> the system's lib (ocf-shellfuncs).
 */
function ocfRoot(dir: string): { root: string; agent: string } {
  const root = path.join(dir, 'ocf');
  mkdirSync(path.join(root, 'resource.d', 'vigiltest'), { recursive: true, mode: 0o755 });
  symlinkSync('/usr/lib/ocf/lib', path.join(root, 'lib'));
  const agent = path.join(root, 'resource.d', 'vigiltest', 'floatip');
  copyFileSync(FLOATIP, agent);
  chmodSync(agent, 0o755);
  chmodSync(dir, 0o755);
  return { root, agent };
}

test('lab: cloud floating IP — the same with an OCF agent (floatip) in a group on the VRRP master: one assignment per failover, from the new master; ocf-tester passes the agent', { skip: ocfSkip(), timeout: TEST_TIMEOUT }, async (t) => {
  const dir = scriptsDir();
  try {
    const { root, agent } = ocfRoot(dir);
    await withLab({ hosts: ['a', 'b', 'api'] }, async (lab) => {
      const api = lab.host('api').ipv4;
      const ipA = lab.host('a').ipv4;
      const ipB = lab.host('b').ipv4;
      await startApi(lab, 'api');
      const droplet = { a: 101, b: 102 } as const;
      const cfg = (host: 'a' | 'b', priority: number, peer: string): string =>
        configYaml(instanceYaml({ vrid: 76, priority, vips: ['10.213.0.200/32'], extra: `    unicast: { peers: [${peer}] }` })) +
        [
          'resources:',
          '  - name: fip',
          '    type: ocf',
          '    agent: vigiltest:floatip',
          `    params: { api_url: "http://${api}:8080", floating_ip: "${VIP}", droplet_id: "${droplet[host]}", state_dir: "${path.join(dir, 'state')}" }`,
          '    monitor_interval: 1s',
          'groups:',
          '  - { name: cloud, resources: [fip], runs_on: { master: gw } }',
          '',
        ].join('\n');
      const env = { OCF_ROOT: root };
      const opDone = (p: VigilProcess, op: string, from: number): Promise<unknown> =>
        p.waitFor((e) => e.event === 'resource-op-result' && e['resource'] === 'fip' && e['op'] === op, `fip ${op}`, 15_000, from);
      const rcOf = (p: VigilProcess, op: string): unknown[] => p.events.filter((e) => e.event === 'resource-op-result' && e['resource'] === 'fip' && e['op'] === op).map((e) => e['rc']);
      let a = await VigilProcess.start(lab, 'a', cfg('a', 200, ipB), { env });
      const b = await VigilProcess.start(lab, 'b', cfg('b', 100, ipA), { env });
      try {
        await a.waitState('gw', 'master');
        await b.waitState('gw', 'backup');
        await opDone(a, 'start', 0);
        assert.deepEqual(rcOf(a, 'start'), [0], `a's start: ${a.logText()}`);
        await until(async () => (await apiLog(lab, api)).length === 1, () => 'the first assignment');
        // Failover 1: a's daemon stops (its group stops, it sends priority 0); b takes over.
        await a.stop();
        let bMark = b.events.length;
        await b.waitState('gw', 'master', 5000);
        await opDone(b, 'start', bMark);
        assert.deepEqual(rcOf(b, 'start'), [0], `b's start: ${b.logText()}`);
        // Failover 2: a returns and preempts; b's group stops, a's starts.
        bMark = b.events.length;
        a = await VigilProcess.start(lab, 'a', cfg('a', 200, ipB), { env });
        await a.waitState('gw', 'master', 5000);
        await b.waitState('gw', 'backup', 5000, bMark);
        await opDone(a, 'start', 0);
        await opDone(b, 'stop', bMark);
        assert.deepEqual(rcOf(a, 'start'), [0], `a's start after its restart: ${a.logText()}`);
        assert.deepEqual(rcOf(b, 'stop'), [0], `b's stop: ${b.logText()}`);
        // Recurring monitors (1 s) on a find the floating IP there and assign nothing more.
        await sleep(2500);
        const log = await apiLog(lab, api);
        t.diagnostic(JSON.stringify(log));
        assert.deepEqual(
          log.map((x) => [x.from, x.body]),
          [
            [ipA, { type: 'assign', droplet_id: droplet.a }],
            [ipB, { type: 'assign', droplet_id: droplet.b }],
            [ipA, { type: 'assign', droplet_id: droplet.a }],
          ],
        );
        const held = await lab.exec('b', 'curl', ['-sf', '-m', '5', `http://${api}:8080/v2/floating_ips/${VIP}`]);
        assert.deepEqual((JSON.parse(held.stdout) as { floating_ip: { droplet: unknown } }).floating_ip.droplet, { id: droplet.a });
        const fip = (await controlRequest(a.runtimeDir, { command: 'resource-status' })) as { ok: boolean; result?: { resources: { name: string; state: string; failCount: number }[] } };
        const onA = fip.result?.resources.find((r) => r.name === 'fip');
        assert.equal(onA?.state, 'started');
        assert.equal(onA?.failCount, 0, 'no monitor failed on a');
        assert.ok(!a.events.some((e) => e.event === 'resource-op-result' && e['resource'] === 'fip' && e['op'] === 'monitor'), `a monitor failed on a: ${a.logText()}`);
      } finally {
        await Promise.all([a.stop(), b.stop()]);
      }
      // Debian's ocf-tester on the agent, from a namespace that reaches the API (as another droplet):
      // meta-data valid against ra-api-1.dtd, every action's exit code; starting a started
      // resource and the restart after a stop assign nothing again, so it costs one assignment.
      const tester = await lab.exec(
        'a',
        'env',
        [`OCF_ROOT=${root}`, '/usr/sbin/ocf-tester', '-n', 'fip', '-o', `api_url=http://${api}:8080`, '-o', `floating_ip=${VIP}`, '-o', 'droplet_id=999', '-o', `state_dir=${path.join(dir, 'tester')}`, agent],
        true,
      );
      t.diagnostic(tester.stdout);
      assert.equal(tester.code, 0, `ocf-tester: ${tester.stdout}${tester.stderr}`);
      assert.match(tester.stdout, /passed all tests/);
      const after = await apiLog(lab, api);
      assert.deepEqual(after.slice(3).map((x) => x.body), [{ type: 'assign', droplet_id: 999 }]);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
