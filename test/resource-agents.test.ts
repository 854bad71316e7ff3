/**
 * The resource agents against real things: exec with real long-running commands (start,
 * monitor, stop, SIGKILL escalation, early exits, adoption after a daemon "restart"),
 * systemd where systemd is not running and with a fake systemctl, OCF with Debian's
 * resource-agents (ocf:heartbeat:Dummy; IPaddr2 inside a lab namespace) and fake agents
 * (timeouts, exit codes, environment, refusals), and vip inside a lab namespace (netlink,
 * link down, gratuitous ARP / NA seen by a capture on the other host).
 *
 * Processes are ended only by the PIDs (and process groups) these tests started; network
 * changes happen only inside lab namespaces (the agents run in a child process there,
 * test/support/agent-driver.ts).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ExecAgent, OcfAgent, SystemdAgent, createAgent, readProcStat } from '../src/resources/agents/index.js';
import { groupMembers } from '../src/resources/agents/exec.js';
import { OCF, type OperationResult } from '../src/resources/types.js';
import { labAvailable, run, withLab, type Lab } from '../src/lab/netns.js';
import { Capture, gratuitousArps, neighborAdverts } from '../src/lab/capture.js';
import { sleep } from '../src/lab/wait.js';

const DRIVER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'support', 'agent-driver.js');
const lab = labAvailable();
const OCF_ROOT = '/usr/lib/ocf';
const haveResourceAgents = existsSync(path.join(OCF_ROOT, 'resource.d', 'heartbeat', 'Dummy')) && existsSync(path.join(OCF_ROOT, 'resource.d', 'heartbeat', 'IPaddr2'));
const RA_SKIP = haveResourceAgents ? false : 'Debian package resource-agents is not installed (apt-get install -y resource-agents)';

const dirs: string[] = [];
function tempDir(stem: string): string {
  const d = mkdtempSync(path.join(tmpdir(), `vigil-ra-${stem}-`));
  dirs.push(d);
  return d;
}

/** Processes these tests started (pid and start time), ended at the end if still alive. */
const started: { pid: number; startTime: string }[] = [];
function remember(pid: number | undefined): void {
  if (pid === undefined) return;
  const st = readProcStat(pid);
  if (st) started.push({ pid, startTime: st.startTime });
}
function aliveNotZombie(pid: number): boolean {
  const st = readProcStat(pid);
  return st !== undefined && st.state !== 'Z' && st.state !== 'X';
}

after(() => {
  for (const { pid, startTime } of started) {
    const st = readProcStat(pid);
    if (st && st.startTime === startTime && st.state !== 'Z') {
      try {
        process.kill(st.pgrp === pid ? -pid : pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function ok(r: OperationResult, rc: number = OCF.SUCCESS): OperationResult {
  assert.equal(r.rc, rc, `expected rc ${rc}, got ${r.rc}: ${r.detail}`);
  return r;
}

const NODE = process.execPath;
const LONG = [NODE, '-e', "console.log('hello out'); console.error('hello err'); setInterval(() => {}, 1000)"];
const IGNORES_TERM = [NODE, '-e', "require('child_process').spawn('sleep', ['1001'], { stdio: 'ignore' }); process.on('SIGTERM', () => console.error('ignoring SIGTERM')); setInterval(() => {}, 1000)"];

describe('exec agent', () => {
  test('start, monitor and stop a real long-running command; own process group; pid and log files', async () => {
    const dir = tempDir('exec');
    const agent = new ExecAgent('web', { type: 'exec', command: LONG }, dir, { settleMs: 300 });
    ok(await agent.monitor(1000), OCF.NOT_RUNNING);
    const s = ok(await agent.start(5000));
    remember(agent.pid);
    assert.match(s.detail, /started web \(pid \d+/);
    assert.ok(s.elapsedMs >= 290, `settled for ${s.elapsedMs} ms`);
    const pid = agent.pid;
    assert.ok(pid !== undefined);
    const st = readProcStat(pid);
    assert.equal(st?.pgrp, pid, 'the command leads its own process group');
    const pidFile = JSON.parse(readFileSync(path.join(dir, 'web.pid'), 'utf8')) as { pid: number; startTime: string };
    assert.equal(pidFile.pid, pid);
    assert.equal(pidFile.startTime, st?.startTime);
    const again = ok(await agent.start(5000));
    assert.match(again.detail, /already running/);
    assert.equal(agent.pid, pid, 'a second start does not start a second process');
    const m = ok(await agent.monitor(1000));
    assert.match(m.detail, new RegExp(`running \\(pid ${pid}\\)`));
    assert.ok(m.elapsedMs < 50, `monitor took ${m.elapsedMs} ms`);
    const log = readFileSync(path.join(dir, 'web.log'), 'utf8');
    assert.match(log, /starting .*node/);
    assert.match(log, /hello out/);
    assert.match(log, /hello err/);
    const stop = ok(await agent.stop(5000));
    assert.match(stop.detail, /exited on SIGTERM/);
    assert.equal(aliveNotZombie(pid), false);
    assert.equal(existsSync(path.join(dir, 'web.pid')), false, 'the pid file is removed');
    const m2 = ok(await agent.monitor(1000), OCF.NOT_RUNNING);
    assert.match(m2.detail, /not running/);
    ok(await agent.stop(1000));
  });

  test('a command that exits at once fails the start with its status and last line; not found / signal', async () => {
    const dir = tempDir('exec-fail');
    const agent = new ExecAgent('bad', { type: 'exec', command: ['sh', '-c', 'echo starting; echo "cannot bind 10.213.0.100:80: Address not available" >&2; exit 3'] }, dir, { settleMs: 500 });
    const r = ok(await agent.start(5000), OCF.ERR_GENERIC);
    assert.equal(r.timedOut, false);
    assert.match(r.detail, /exit 3 within 500 ms: cannot bind 10\.213\.0\.100:80: Address not available/);
    assert.ok(r.elapsedMs < 450, `reported at the exit, not after the settle time (${r.elapsedMs} ms)`);
    assert.equal(existsSync(path.join(dir, 'bad.pid')), false);
    ok(await agent.monitor(1000), OCF.NOT_RUNNING);
    ok(await agent.stop(1000));

    const segv = new ExecAgent('segv', { type: 'exec', command: ['sh', '-c', 'kill -SEGV $$'] }, dir, { settleMs: 300 });
    assert.match(ok(await segv.start(5000), OCF.ERR_GENERIC).detail, /killed by SIGSEGV/);

    const missing = new ExecAgent('missing', { type: 'exec', command: ['/nonexistent/haproxy', '-db'] }, dir);
    assert.match(ok(await missing.start(5000), OCF.ERR_INSTALLED).detail, /cannot run \/nonexistent\/haproxy: ENOENT/);
    const noCwd = new ExecAgent('nocwd', { type: 'exec', command: ['sleep', '1'], cwd: '/nonexistent' }, dir);
    assert.match(ok(await noCwd.start(5000), OCF.ERR_INSTALLED).detail, /working directory/);
    const empty = new ExecAgent('empty', { type: 'exec', command: [] }, dir);
    assert.match(ok(await empty.start(1000), OCF.ERR_GENERIC).detail, /command is empty/);
  });

  test('stop of a command that ignores SIGTERM: SIGKILL to the group before the stop timeout', async () => {
    const dir = tempDir('exec-term');
    const agent = new ExecAgent('stubborn', { type: 'exec', command: IGNORES_TERM }, dir, { settleMs: 500 });
    ok(await agent.start(5000));
    remember(agent.pid);
    const pid = agent.pid;
    assert.ok(pid !== undefined);
    assert.ok(groupMembers(pid).length >= 2, 'the command and its child are in the group');
    const stop = ok(await agent.stop(1500));
    assert.match(stop.detail, /did not exit on SIGTERM within 1200 ms; killed with SIGKILL/);
    assert.ok(stop.elapsedMs >= 1100 && stop.elapsedMs < 1500, `stopped after ${stop.elapsedMs} ms`);
    assert.equal(aliveNotZombie(pid), false);
    assert.deepEqual(groupMembers(pid), [], 'nothing of the group is left');
    assert.match(readFileSync(agent.logFile, 'utf8'), /ignoring SIGTERM/);
    ok(await agent.monitor(1000), OCF.NOT_RUNNING);
  });

  test('an unexpected death (kill -9) is ERR_GENERIC; the stop after it succeeds, then NOT_RUNNING', async () => {
    const dir = tempDir('exec-kill');
    const agent = createAgent({ type: 'exec', command: ['sleep', '1000'], settleMs: 200 }, { name: 'victim', stateDir: dir });
    assert.ok(agent instanceof ExecAgent);
    ok(await agent.start(5000));
    remember(agent.pid);
    const pid = agent.pid;
    assert.ok(pid !== undefined);
    process.kill(pid, 'SIGKILL');
    await sleep(100);
    const m = ok(await agent.monitor(1000), OCF.ERR_GENERIC);
    assert.match(m.detail, new RegExp(`died unexpectedly: pid ${pid} killed by SIGKILL`));
    const stop = ok(await agent.stop(2000));
    assert.match(stop.detail, /not running/);
    ok(await agent.monitor(1000), OCF.NOT_RUNNING);
    // and it starts again
    ok(await agent.start(5000));
    remember(agent.pid);
    assert.notEqual(agent.pid, pid);
    ok(await agent.stop(5000));
  });

  test('adoption after a daemon restart: the process survives its starter and is adopted from the pid file', async () => {
    const dir = tempDir('exec-adopt');
    const spec = { type: 'exec', command: ['sleep', '1000'], settleMs: 200 } as const;
    // The "daemon": a process that starts the resource and exits.
    const r = await run(NODE, [DRIVER, JSON.stringify({ spec, context: { name: 'app', stateDir: dir } }), JSON.stringify({ op: 'start' }), JSON.stringify({ op: 'pid' })]);
    const [startLine, pidLine] = r.stdout.trim().split('\n');
    const first = JSON.parse(startLine ?? '{}') as OperationResult;
    assert.equal(first.rc, OCF.SUCCESS, first.detail);
    const { pid } = JSON.parse(pidLine ?? '{}') as { pid: number };
    remember(pid);
    assert.ok(aliveNotZombie(pid), 'the command outlived the process that started it');

    const restarted = new ExecAgent('app', spec, dir);
    assert.equal(restarted.adopted, true, restarted.ignoredPidFile);
    assert.equal(restarted.pid, pid);
    const m = ok(await restarted.monitor(1000));
    assert.match(m.detail, /adopted/);
    assert.match(ok(await restarted.start(5000)).detail, /already running/);
    assert.equal(restarted.pid, pid, 'no second process');
    const stop = ok(await restarted.stop(5000));
    assert.match(stop.detail, new RegExp(`pid ${pid} exited on SIGTERM`));
    assert.equal(aliveNotZombie(pid), false);
    assert.equal(new ExecAgent('app', spec, dir).adopted, false, 'nothing to adopt after a stop');
  });

  test('a pid file naming an unrelated live process, or a reused pid, is not adopted', async () => {
    const dir = tempDir('exec-noadopt');
    const spec = { type: 'exec', command: ['sleep', '1000'], settleMs: 200 } as const;
    // The test runner itself: alive, but another command.
    writeFileSync(path.join(dir, 'app.pid'), `${process.pid}\n`);
    const agent = new ExecAgent('app', spec, dir);
    assert.equal(agent.adopted, false);
    assert.match(agent.ignoredPidFile ?? '', new RegExp(`pid ${process.pid} runs another command`));
    const m = ok(await agent.monitor(1000), OCF.NOT_RUNNING);
    assert.match(m.detail, /not adopted/);
    ok(await agent.stop(1000));
    assert.ok(aliveNotZombie(process.pid));

    // The same command line, but not the process that was started (another start time).
    const other = spawn('sleep', ['1000'], { stdio: 'ignore' });
    remember(other.pid);
    try {
      assert.ok(other.pid !== undefined);
      await sleep(50);
      writeFileSync(path.join(dir, 'app.pid'), JSON.stringify({ pid: other.pid, startTime: '1' }));
      const reused = new ExecAgent('app', spec, dir);
      assert.equal(reused.adopted, false);
      assert.match(reused.ignoredPidFile ?? '', /is another process/);
      // A hand-written pid file (just the number) with the matching command is adopted.
      writeFileSync(path.join(dir, 'app.pid'), `${other.pid}\n`);
      const manual = new ExecAgent('app', spec, dir);
      assert.equal(manual.adopted, true, manual.ignoredPidFile);
      ok(await manual.monitor(1000));
      // It was not spawned as a group leader: stop signals the pid alone.
      ok(await manual.stop(3000));
      assert.equal(aliveNotZombie(other.pid), false);
    } finally {
      if (other.exitCode === null && other.signalCode === null) other.kill('SIGKILL');
    }
  });
});

describe('systemd agent', () => {
  test('where systemd is not running, every operation is ERR_INSTALLED with the reason', async () => {
    const agents = [new SystemdAgent('haproxy.service', { runDir: '/nonexistent/run/systemd/system' })];
    if (!existsSync('/run/systemd/system')) agents.push(new SystemdAgent('haproxy.service'));
    for (const agent of agents) {
      for (const r of [await agent.start(1000), await agent.monitor(1000), await agent.stop(1000)]) {
        ok(r, OCF.ERR_INSTALLED);
        assert.match(r.detail, /systemd is not running here \(no .*\/run\/systemd\/system\); use an exec resource/);
      }
    }
  });

  test('with a fake systemctl: the commands, their results, and a timeout that kills systemctl', async () => {
    const dir = tempDir('systemd');
    const runDir = path.join(dir, 'run-systemd-system');
    mkdirSync(runDir);
    const log = path.join(dir, 'calls.log');
    const systemctl = path.join(dir, 'systemctl');
    writeFileSync(
      systemctl,
      `#!/bin/sh
echo "$*" >> ${log}
D=${dir}
case "$*" in
  "--no-ask-password start -- web.service") touch $D/web.active; exit 0 ;;
  "--no-ask-password stop -- web.service") rm -f $D/web.active; exit 0 ;;
  "is-active -- web.service") if [ -e $D/web.active ]; then echo active; exit 0; else echo inactive; exit 3; fi ;;
  "--no-ask-password start -- missing.service") echo "Failed to start missing.service: Unit missing.service not found." >&2; exit 5 ;;
  "--no-ask-password stop -- missing.service") echo "Failed to stop missing.service: Unit missing.service not loaded." >&2; exit 5 ;;
  "--no-ask-password start -- broken.service") echo "Job for broken.service failed because the control process exited with error code." >&2; exit 1 ;;
  "is-active -- broken.service") echo failed; exit 3 ;;
  "is-active -- slow.service") n=$(cat $D/slow.count 2>/dev/null || echo 0); echo $((n+1)) > $D/slow.count; if [ $n -lt 2 ]; then echo activating; exit 3; else echo active; exit 0; fi ;;
  "--no-ask-password start -- hang.service") echo $$ > $D/hang.pid; sleep 1000 & echo $! > $D/hang-child.pid; wait ;;
esac
echo "unexpected: $*" >&2; exit 99
`,
      { mode: 0o755 },
    );
    const agent = (unit: string): SystemdAgent => new SystemdAgent(unit, { systemctl, runDir });
    const web = agent('web.service');
    ok(await web.monitor(2000), OCF.NOT_RUNNING);
    assert.match(ok(await web.start(2000)).detail, /started web\.service/);
    assert.match(ok(await web.monitor(2000)).detail, /web\.service is active/);
    ok(await web.stop(2000));
    ok(await web.monitor(2000), OCF.NOT_RUNNING);
    assert.deepEqual(readFileSync(log, 'utf8').trim().split('\n'), [
      'is-active -- web.service',
      '--no-ask-password start -- web.service',
      'is-active -- web.service',
      '--no-ask-password stop -- web.service',
      'is-active -- web.service',
    ]);

    assert.match(ok(await agent('missing.service').start(2000), OCF.ERR_INSTALLED).detail, /no such unit/);
    ok(await agent('missing.service').stop(2000));
    const broken = ok(await agent('broken.service').start(2000), OCF.ERR_GENERIC);
    assert.match(broken.detail, /systemctl exit 1: Job for broken\.service failed/);
    assert.match(ok(await agent('broken.service').monitor(2000), OCF.ERR_GENERIC).detail, /is failed/);
    const slow = ok(await agent('slow.service').monitor(3000));
    assert.ok(slow.elapsedMs >= 350, `asked again while activating (${slow.elapsedMs} ms)`);

    const hang = ok(await agent('hang.service').start(500), OCF.ERR_GENERIC);
    assert.equal(hang.timedOut, true);
    assert.match(hang.detail, /systemctl timed out after 500 ms \(killed\)/);
    assert.ok(hang.elapsedMs < 1000, `answered after ${hang.elapsedMs} ms`);
    const hangPid = Number(readFileSync(path.join(dir, 'hang.pid'), 'utf8'));
    const childPid = Number(readFileSync(path.join(dir, 'hang-child.pid'), 'utf8'));
    await sleep(100);
    assert.equal(aliveNotZombie(hangPid), false, 'systemctl killed');
    assert.equal(aliveNotZombie(childPid), false, 'its process group killed');

    const notThere = await new SystemdAgent('web.service', { systemctl: path.join(dir, 'no-systemctl'), runDir }).start(1000);
    ok(notThere, OCF.ERR_INSTALLED);
    assert.match(notThere.detail, /cannot run .*no-systemctl: ENOENT/);
  });
});

/** A fake OCF_ROOT with agents of provider "vigiltest". */
function fakeOcfRoot(agents: Record<string, string>): string {
  const root = tempDir('ocf');
  const dir = path.join(root, 'resource.d', 'vigiltest');
  mkdirSync(dir, { recursive: true });
  for (const [name, body] of Object.entries(agents)) {
    writeFileSync(path.join(dir, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    chmodSync(path.join(dir, name), 0o755);
  }
  return root;
}

describe('ocf agent', () => {
  test('ocf:heartbeat:Dummy through start, monitor, stop; validate-all and meta-data', { skip: RA_SKIP }, async () => {
    const dir = tempDir('dummy');
    const state = path.join(dir, 'Dummy.state');
    const agent = createAgent({ type: 'ocf', agent: 'ocf:heartbeat:Dummy', params: { state } }, { name: 'dummy1', stateDir: dir });
    assert.ok(agent instanceof OcfAgent);
    assert.equal(agent.path, '/usr/lib/ocf/resource.d/heartbeat/Dummy');
    const probe = ok(await agent.monitor(10000), OCF.NOT_RUNNING);
    assert.match(probe.detail, /monitor ocf:heartbeat:Dummy \(dummy1\): exit 7 \(NOT_RUNNING\)/);
    ok(await agent.start(10000));
    assert.ok(existsSync(state), 'Dummy wrote its state file');
    ok(await agent.monitor(10000));
    ok(await agent.stop(10000));
    assert.equal(existsSync(state), false);
    ok(await agent.monitor(10000), OCF.NOT_RUNNING);
    ok(await agent.validateAll(10000));
    const meta = await agent.metaData(10000);
    ok(meta.result);
    assert.match(meta.xml ?? '', /<resource-agent name="Dummy"/);
  });

  test('fake agents: exit codes with stderr, the environment, a hanging agent killed with its group, refusals', async () => {
    const root = fakeOcfRoot({
      Env: 'env > "$OCF_RESKEY_out"; exit 0',
      Six: 'echo "ERROR: config is bad" >&2; exit 6',
      Signal: 'kill -KILL $$',
      Hang: 'echo $$ > "$OCF_RESKEY_dir/hang.pid"; sleep 1000 & echo $! > "$OCF_RESKEY_dir/hang-child.pid"; wait',
      Unsafe: 'exit 0',
    });
    const dir = tempDir('ocf-out');
    const out = path.join(dir, 'env.txt');
    const env = new OcfAgent('res1', { type: 'ocf', agent: 'vigiltest:Env', params: { out, ip: '10.213.0.100' } }, { root });
    ok(await env.monitor(3000));
    const vars = new Map(
      readFileSync(out, 'utf8')
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const),
    );
    assert.equal(vars.get('OCF_ROOT'), root);
    assert.equal(vars.get('OCF_RESOURCE_INSTANCE'), 'res1');
    assert.equal(vars.get('OCF_RESOURCE_TYPE'), 'Env');
    assert.equal(vars.get('OCF_RESOURCE_PROVIDER'), 'vigiltest');
    assert.equal(vars.get('OCF_RESKEY_ip'), '10.213.0.100');
    assert.equal(vars.get('OCF_RESKEY_CRM_meta_timeout'), '3000');
    assert.equal(vars.get('OCF_RA_VERSION_MAJOR'), '1');
    assert.equal(vars.has('HA_LOGFILE'), false);

    const six = ok(await new OcfAgent('r', { type: 'ocf', agent: 'ocf:vigiltest:Six', params: {} }, { root }).start(3000), OCF.ERR_CONFIGURED);
    assert.match(six.detail, /start ocf:vigiltest:Six \(r\): exit 6 \(ERR_CONFIGURED\): ERROR: config is bad/);
    assert.match(ok(await new OcfAgent('r', { type: 'ocf', agent: 'vigiltest:Signal', params: {} }, { root }).stop(3000), OCF.ERR_GENERIC).detail, /killed by SIGKILL/);

    const hang = await new OcfAgent('r', { type: 'ocf', agent: 'vigiltest:Hang', params: { dir } }, { root }).start(500);
    ok(hang, OCF.ERR_GENERIC);
    assert.equal(hang.timedOut, true);
    assert.match(hang.detail, /timed out after 500 ms \(agent killed\)/);
    assert.ok(hang.elapsedMs >= 490 && hang.elapsedMs < 1000, `answered after ${hang.elapsedMs} ms`);
    await sleep(100);
    assert.equal(aliveNotZombie(Number(readFileSync(path.join(dir, 'hang.pid'), 'utf8'))), false, 'the agent was killed');
    assert.equal(aliveNotZombie(Number(readFileSync(path.join(dir, 'hang-child.pid'), 'utf8'))), false, 'and its process group');

    chmodSync(path.join(root, 'resource.d', 'vigiltest', 'Unsafe'), 0o757);
    const unsafe = ok(await new OcfAgent('r', { type: 'ocf', agent: 'vigiltest:Unsafe', params: {} }, { root }).start(1000), OCF.ERR_PERM);
    assert.match(unsafe.detail, /agent refused: .*Unsafe is writable by others \(mode 757\); refused/);
    const missing = ok(await new OcfAgent('r', { type: 'ocf', agent: 'vigiltest:Nope', params: {} }, { root }).monitor(1000), OCF.ERR_INSTALLED);
    assert.match(missing.detail, /agent not installed: .*Nope: ENOENT/);
    assert.match(ok(await new OcfAgent('r', { type: 'ocf', agent: 'ocf:../../bin:sh', params: {} }, { root }).start(1000), OCF.ERR_CONFIGURED).detail, /plain names/);
    assert.match(ok(await new OcfAgent('r', { type: 'ocf', agent: 'vigiltest:Env', params: { 'bad-name': 'x' } }, { root }).start(1000), OCF.ERR_CONFIGURED).detail, /not a valid OCF_RESKEY_ name/);
  });

  test('ocf:heartbeat:IPaddr2 in a lab namespace: start adds the address, monitor 0, stop removes it, monitor 7', { skip: RA_SKIP || (lab.ok ? false : lab.reason) }, async () => {
    await withLab({ hosts: ['a', 'b'] }, async (l) => {
      const setup = { spec: { type: 'ocf', agent: 'ocf:heartbeat:IPaddr2', params: { ip: '10.213.0.110', cidr_netmask: '24', nic: 'eth0' } }, context: { name: 'vip-ocf', stateDir: '/tmp' } };
      const up = await drive(l, 'a', setup, { op: 'start', timeoutMs: 20000 }, { op: 'monitor', timeoutMs: 20000 });
      ok(up[0] as OperationResult);
      ok(up[1] as OperationResult);
      assert.ok((await addrs(l, 'a')).includes('10.213.0.110/24'));
      const down = await drive(l, 'a', setup, { op: 'stop', timeoutMs: 20000 }, { op: 'monitor', timeoutMs: 20000 });
      ok(down[0] as OperationResult);
      ok(down[1] as OperationResult, OCF.NOT_RUNNING);
      assert.equal((await addrs(l, 'a')).includes('10.213.0.110/24'), false);
    });
  });
});

/** Runs agent operations in `host`'s namespace; one parsed JSON line per operation. */
async function drive(l: Lab, host: string, setup: unknown, ...ops: Record<string, unknown>[]): Promise<unknown[]> {
  const r = await l.exec(host, NODE, [DRIVER, JSON.stringify(setup), ...ops.map((o) => JSON.stringify(o))], true);
  assert.equal(r.code, 0, `driver failed: ${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, ops.length, r.stdout + r.stderr);
  return lines.map((line) => JSON.parse(line) as unknown);
}

interface IpAddrInfo {
  local: string;
  prefixlen: number;
  nodad?: boolean;
}
async function addrInfo(l: Lab, host: string): Promise<IpAddrInfo[]> {
  const r = await l.exec(host, 'ip', ['-j', 'addr', 'show', 'dev', 'eth0']);
  return (JSON.parse(r.stdout) as { addr_info: IpAddrInfo[] }[])[0]?.addr_info ?? [];
}
async function addrs(l: Lab, host: string): Promise<string[]> {
  return (await addrInfo(l, host)).map((a) => `${a.local}/${a.prefixlen}`);
}

describe('vip agent', { skip: lab.ok ? false : lab.reason }, () => {
  test('IPv4 in a lab namespace: start (idempotent) with gratuitous ARP seen on the other host, link down fails the monitor, stop (idempotent)', async () => {
    await withLab({ hosts: ['a', 'b'] }, async (l) => {
      const setup = { spec: { type: 'vip', address: '10.213.0.100', prefixLength: 24, interface: 'eth0', label: 'eth0:vip' }, context: { name: 'vip', stateDir: '/tmp', vip: { arpCount: 5, arpIntervalMs: 50 } } };
      ok(((await drive(l, 'a', setup, { op: 'monitor' }))[0]) as OperationResult, OCF.NOT_RUNNING);
      const cap = await Capture.start(l, 'b', 'arp');
      const [first, second, monitor, announced] = (await drive(l, 'a', setup, { op: 'start' }, { op: 'start' }, { op: 'monitor' }, { op: 'announced' })) as [OperationResult, OperationResult, OperationResult, { sent: number }];
      assert.match(ok(first).detail, /added 10\.213\.0\.100\/24 on eth0; 5 gratuitous ARPs, 50 ms apart/);
      assert.match(ok(second).detail, /already present/);
      assert.match(ok(monitor).detail, /present, link up/);
      assert.equal(announced.sent, 5);
      await sleep(200);
      const garps = gratuitousArps(await cap.stop()).filter((g) => g.ip === '10.213.0.100' && g.senderMac === l.host('a').mac);
      assert.ok(garps.length >= 5, `gratuitous ARPs seen on b: ${garps.length}`);
      const info = (await addrInfo(l, 'a')).find((a) => a.local === '10.213.0.100');
      assert.equal(info?.prefixlen, 24);

      await l.link('a', false);
      const [down, startDown] = (await drive(l, 'a', setup, { op: 'monitor' }, { op: 'start' })) as [OperationResult, OperationResult];
      assert.match(ok(down, OCF.ERR_GENERIC).detail, /address present but eth0 is administratively down/);
      assert.match(ok(startDown, OCF.ERR_GENERIC).detail, /eth0 is administratively down; address not added/);
      await l.link('a', true);
      await sleep(100);
      ok(((await drive(l, 'a', setup, { op: 'monitor' }))[0]) as OperationResult);

      const [stop1, stop2, after] = (await drive(l, 'a', setup, { op: 'stop' }, { op: 'stop' }, { op: 'monitor' })) as [OperationResult, OperationResult, OperationResult];
      assert.match(ok(stop1).detail, /removed 10\.213\.0\.100\/24 on eth0/);
      assert.match(ok(stop2).detail, /was not present/);
      assert.match(ok(after, OCF.NOT_RUNNING).detail, /address not present/);
      assert.equal((await addrs(l, 'a')).includes('10.213.0.100/24'), false);
      assert.ok((await addrs(l, 'a')).includes('10.213.0.1/24'), "the host's own address is untouched");
    });
  });

  test('IPv6 with nodad and unsolicited NAs; a missing interface', async () => {
    await withLab({ hosts: ['a', 'b'] }, async (l) => {
      const setup = { spec: { type: 'vip', address: 'fd13::100', prefixLength: 64, interface: 'eth0' }, context: { name: 'vip6', stateDir: '/tmp', vip: { arpCount: 3, arpIntervalMs: 50 } } };
      const cap = await Capture.start(l, 'b', 'icmp6');
      const [start, monitor, announced] = (await drive(l, 'a', setup, { op: 'start' }, { op: 'monitor' }, { op: 'announced' })) as [OperationResult, OperationResult, { sent: number }];
      assert.match(ok(start).detail, /added fd13::100\/64 on eth0; 3 unsolicited NAs/);
      ok(monitor);
      assert.equal(announced.sent, 3);
      await sleep(200);
      const nas = neighborAdverts(await cap.stop()).filter((n) => n.target === 'fd13::100' && n.ethSrc === l.host('a').mac);
      assert.ok(nas.length >= 3, `NAs seen on b: ${nas.length}`);
      const info = (await addrInfo(l, 'a')).find((a) => a.local === 'fd13::100');
      assert.equal(info?.nodad, true, JSON.stringify(info));
      const [stop, after] = (await drive(l, 'a', setup, { op: 'stop' }, { op: 'monitor' })) as [OperationResult, OperationResult];
      ok(stop);
      ok(after, OCF.NOT_RUNNING);

      const missing = { spec: { type: 'vip', address: '10.213.0.101', prefixLength: 24, interface: 'eth9' }, context: { name: 'vipx', stateDir: '/tmp' } };
      const [s, m, st] = (await drive(l, 'a', missing, { op: 'start' }, { op: 'monitor' }, { op: 'stop' })) as [OperationResult, OperationResult, OperationResult];
      assert.match(ok(s, OCF.ERR_INSTALLED).detail, /no interface eth9 on this node/);
      ok(m, OCF.NOT_RUNNING);
      ok(st);
    });
  });
});
