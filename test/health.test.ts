/**
 * Health checks: rise/fall (unit tests and a property), the probes against real things on
 * loopback only (an http server, an https server with a self-signed certificate made with
 * openssl in a temp dir, a TCP listener, a closed port, processes this test starts and
 * ends by PID, scripts in a temp dir), and the checker's timing, overlap and hang rules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { ip } from '../src/net/address.js';
import type { HealthCheckConfig, HealthCheckSpec } from '../src/resources/types.js';
import { HealthChecker, type CheckResult, type CheckStatus } from '../src/health/checker.js';
import { httpProbe, MAX_BODY_BYTES, probe, processProbe, scriptProbe, tcpProbe, type ProbeResult } from '../src/health/probes.js';
import { INITIAL_RISE_FALL, isHealthy, observe, observeAll, priorityEffect, type HealthState, type Transition } from '../src/health/rise-fall.js';
import { checkProperty } from './support/property.js';
import { sleep, until } from '../src/lab/wait.js';

const isRoot = process.getuid?.() === 0;


function listen(server: Server, host = '127.0.0.1', port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((r) => {
    server.close(() => r());
    (server as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
  });
}

/** A port that was just free on 127.0.0.1 (bound then closed). */
async function closedPort(): Promise<number> {
  const s = createTcpServer();
  const port = await listen(s);
  await close(s);
  return port;
}

// ---------------------------------------------------------------- rise/fall

test('rise/fall: starts unknown (not healthy); rise successes in a row make it healthy, fall failures unhealthy', () => {
  const p = { rise: 3, fall: 2 };
  assert.equal(INITIAL_RISE_FALL.state, 'unknown');
  assert.equal(isHealthy('unknown'), false);
  let s = INITIAL_RISE_FALL;
  const step = (ok: boolean, detail?: string): Transition | undefined => {
    const o = observe(p, s, ok, detail);
    s = o.state;
    return o.transition;
  };
  assert.equal(step(true), undefined);
  assert.equal(step(true), undefined);
  const up = step(true, 'status 200');
  assert.deepEqual(up, { from: 'unknown', to: 'healthy', reason: '3 successes in a row (rise 3); last: status 200' });
  assert.equal(s.state, 'healthy');
  assert.equal(step(true), undefined, 'no transition while it stays healthy');
  assert.equal(step(false), undefined);
  assert.equal(step(true), undefined, 'one failure does not reach fall 2');
  assert.equal(step(false), undefined);
  const down = step(false, 'ECONNREFUSED');
  assert.deepEqual(down, { from: 'healthy', to: 'unhealthy', reason: '2 failures in a row (fall 2); last: ECONNREFUSED' });
  assert.deepEqual(s, { state: 'unhealthy', consecutiveSuccesses: 0, consecutiveFailures: 2, successes: 5, failures: 3 });
  assert.equal(step(false), undefined, 'no transition while it stays unhealthy');
  // Flapping (ok, fail, ok, fail...) never rises with rise 3.
  for (let i = 0; i < 10; i++) assert.equal(step(i % 2 === 0), undefined);
  assert.equal(s.state, 'unhealthy');
});

test('rise/fall: fall failures from unknown give an explicit unknown → unhealthy transition; rise 1 / fall 1 follow every change', () => {
  const { transitions } = observeAll({ rise: 2, fall: 2 }, [false, false, true, true]);
  assert.deepEqual(
    transitions.map((t) => [t.index, t.from, t.to]),
    [
      [1, 'unknown', 'unhealthy'],
      [3, 'unhealthy', 'healthy'],
    ],
  );
  const one = observeAll({ rise: 1, fall: 1 }, [true, true, false, true, false, false]);
  assert.deepEqual(
    one.transitions.map((t) => [t.index, t.to]),
    [
      [0, 'healthy'],
      [2, 'unhealthy'],
      [3, 'healthy'],
      [4, 'unhealthy'],
    ],
  );
  assert.match(one.transitions[0]?.reason ?? '', /^1 success in a row \(rise 1\)$/);
  assert.throws(() => observe({ rise: 0, fall: 1 }, INITIAL_RISE_FALL, true), RangeError);
  assert.throws(() => observe({ rise: 1, fall: 1.5 }, INITIAL_RISE_FALL, true), RangeError);
});

test('rise/fall: keepalived weight semantics (unknown counts as unhealthy)', () => {
  const states: HealthState[] = ['unknown', 'healthy', 'unhealthy'];
  assert.deepEqual(states.map((s) => priorityEffect(10, s)), [{ delta: 0, fault: false }, { delta: 10, fault: false }, { delta: 0, fault: false }]);
  assert.deepEqual(states.map((s) => priorityEffect(-20, s)), [{ delta: -20, fault: false }, { delta: 0, fault: false }, { delta: -20, fault: false }]);
  assert.deepEqual(states.map((s) => priorityEffect(0, s)), [{ delta: 0, fault: true }, { delta: 0, fault: false }, { delta: 0, fault: true }]);
});

test('rise/fall property: a transition happens exactly when a run of rise successes / fall failures completes', () => {
  checkProperty(
    fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }), fc.array(fc.boolean(), { maxLength: 80 }), (rise, fall, results) => {
      const { state, transitions } = observeAll({ rise, fall }, results);
      // The model: the state is set by the latest index at which a run reached exactly
      // `rise` successes or `fall` failures; a transition is a change of that state.
      let model: HealthState = 'unknown';
      let run = 0;
      const expected: { index: number; from: HealthState; to: HealthState }[] = [];
      results.forEach((ok, i) => {
        run = i > 0 && results[i - 1] === ok ? run + 1 : 1;
        const reached: HealthState | undefined = ok && run === rise ? 'healthy' : !ok && run === fall ? 'unhealthy' : undefined;
        if (reached !== undefined && reached !== model) {
          expected.push({ index: i, from: model, to: reached });
          model = reached;
        }
      });
      assert.deepEqual(
        transitions.map((t) => ({ index: t.index, from: t.from, to: t.to })),
        expected,
      );
      assert.equal(state.state, model);
      // Each transition's own window is all successes (rise) or all failures (fall), and directions alternate.
      for (const [k, t] of transitions.entries()) {
        const width = t.to === 'healthy' ? rise : fall;
        assert.ok(results.slice(t.index + 1 - width, t.index + 1).every((r) => r === (t.to === 'healthy')));
        if (k > 0) assert.notEqual(t.to, transitions[k - 1]?.to);
      }
      assert.equal(state.successes, results.filter((r) => r).length);
      assert.equal(state.failures, results.filter((r) => !r).length);
      let tail = 0;
      for (let i = results.length - 1; i >= 0 && results[i] === results[results.length - 1]; i--) tail++;
      assert.equal(state.consecutiveSuccesses, results.at(-1) === true ? tail : 0);
      assert.equal(state.consecutiveFailures, results.at(-1) === false ? tail : 0);
    }),
    { numRuns: 500 },
  );
});

// ---------------------------------------------------------------- http / https

function routes(req: IncomingMessage, res: ServerResponse): void {
  const url = req.url ?? '/';
  if (url === '/ok') res.writeHead(200, { 'content-type': 'text/plain' }).end('status: ok\n');
  else if (url === '/fail') res.writeHead(503).end('status: down\n');
  else if (url === '/big') {
    // The marker lies beyond the first 64 KiB; the body is never read to its end.
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('x'.repeat(MAX_BODY_BYTES + 10));
    res.end('MARKER');
  } else if (url === '/bigearly') {
    res.writeHead(200);
    res.write('MARKER');
    res.end('y'.repeat(4 * MAX_BODY_BYTES));
  } else if (url === '/hang') res.writeHead(200).write('partial'); // never ends
  else if (url === '/silent') return; // no answer at all
  else res.writeHead(404).end();
}

test('http probe: status, body substring and regex, 64 KiB limit, timeouts, closed port, bad specs', async () => {
  const server = createHttpServer(routes);
  const port = await listen(server);
  const base = `http://127.0.0.1:${port}`;
  const http = (p: string, extra: Partial<Extract<HealthCheckSpec, { type: 'http' | 'https' }>> = {}): Extract<HealthCheckSpec, { type: 'http' | 'https' }> => ({
    type: 'http',
    url: `${base}${p}`,
    expectStatus: 200,
    insecure: false,
    ...extra,
  });
  try {
    const ok = await httpProbe(http('/ok'), 1000);
    assert.equal(ok.ok, true, ok.detail);
    assert.equal(ok.detail, `GET ${base}/ok: status 200`);
    assert.ok(ok.elapsedMs >= 0 && ok.elapsedMs < 1000);

    const body = await probe(http('/ok', { bodyMatch: 'status: ok' }), 1000);
    assert.equal(body.ok, true, body.detail);
    const wrongBody = await probe(http('/ok', { bodyMatch: 'status: fine' }), 1000);
    assert.equal(wrongBody.ok, false);
    assert.match(wrongBody.detail, /status 200, body does not contain "status: fine"/);

    const re = await probe(http('/ok', { bodyMatch: '^status: (ok|fine)\\s*$', bodyMatchRegex: true }), 1000);
    assert.equal(re.ok, true, re.detail);
    const reMiss = await probe(http('/ok', { bodyMatch: '^status: (up|fine)', bodyMatchRegex: true }), 1000);
    assert.equal(reMiss.ok, false);
    assert.match(reMiss.detail, /body does not match "\^status: \(up\|fine\)"/);
    const literal = await probe(http('/ok', { bodyMatch: 'status: (ok|fine)' }), 1000);
    assert.equal(literal.ok, false, 'without bodyMatchRegex the pattern is a plain substring');
    const badRe = await probe(http('/ok', { bodyMatch: '(', bodyMatchRegex: true }), 1000);
    assert.equal(badRe.ok, false);
    assert.match(badRe.detail, /bad bodyMatch regular expression/);

    const fail = await probe(http('/fail'), 1000);
    assert.equal(fail.ok, false);
    assert.match(fail.detail, /status 503, expected 200/);
    const expect503 = await probe(http('/fail', { expectStatus: 503 }), 1000);
    assert.equal(expect503.ok, true, expect503.detail);

    const big = await probe(http('/big', { bodyMatch: 'MARKER' }), 2000);
    assert.equal(big.ok, false);
    assert.match(big.detail, new RegExp(`body \\(first ${MAX_BODY_BYTES} bytes\\) does not contain "MARKER"`));
    const early = await probe(http('/bigearly', { bodyMatch: 'MARKER' }), 2000);
    assert.equal(early.ok, true, early.detail);

    for (const p of ['/hang', '/silent']) {
      const hung = await probe(http(p, { bodyMatch: 'never' }), 300);
      assert.equal(hung.ok, false);
      assert.match(hung.detail, /no complete answer within 300 ms/);
      assert.ok(hung.elapsedMs >= 290 && hung.elapsedMs < 1500, `${p}: gave up after ${hung.elapsedMs} ms`);
    }
  } finally {
    await close(server);
  }

  const refused = await probe({ type: 'http', url: `http://127.0.0.1:${await closedPort()}/`, expectStatus: 200, insecure: false }, 1000);
  assert.equal(refused.ok, false);
  assert.match(refused.detail, /ECONNREFUSED/);
  const badUrl = await probe({ type: 'http', url: 'not a url', expectStatus: 200, insecure: false }, 1000);
  assert.equal(badUrl.ok, false);
  assert.match(badUrl.detail, /not a valid URL/);
  const scheme = await probe({ type: 'https', url: 'http://127.0.0.1:1/', expectStatus: 200, insecure: true }, 1000);
  assert.equal(scheme.ok, false);
  assert.match(scheme.detail, /the scheme is http, the check is https/);
});

test('https probe: a self-signed certificate fails verification unless insecure', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-health-tls-'));
  try {
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
      { stdio: 'ignore' },
    );
    const server = createHttpsServer({ key: readFileSync(path.join(dir, 'key.pem')), cert: readFileSync(path.join(dir, 'cert.pem')) }, routes);
    const port = await listen(server);
    const spec = (insecure: boolean): HealthCheckSpec => ({ type: 'https', url: `https://127.0.0.1:${port}/ok`, expectStatus: 200, bodyMatch: 'ok', insecure });
    try {
      const insecure = await probe(spec(true), 2000);
      assert.equal(insecure.ok, true, insecure.detail);
      assert.match(insecure.detail, /status 200, body matches "ok"/);
      const verified = await probe(spec(false), 2000);
      assert.equal(verified.ok, false);
      assert.match(verified.detail, /SELF_SIGNED|self.signed/i);
    } finally {
      await close(server);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------- tcp

test('tcp probe: a listener on 127.0.0.2 passes, a closed port fails with the reason', async () => {
  const server = createTcpServer((s) => s.destroy());
  const port = await listen(server, '127.0.0.2');
  try {
    const ok = await tcpProbe({ type: 'tcp', address: ip('127.0.0.2'), port }, 1000);
    assert.equal(ok.ok, true, ok.detail);
    assert.equal(ok.detail, `127.0.0.2:${port}: connected`);
  } finally {
    await close(server);
  }
  const refused = await probe({ type: 'tcp', address: ip('127.0.0.1'), port: await closedPort() }, 1000);
  assert.equal(refused.ok, false);
  assert.match(refused.detail, /ECONNREFUSED/);
});

// ---------------------------------------------------------------- process

/** The states (R, S, Z...) of the processes whose comm is `comm`. */
function statesOf(comm: string): string[] {
  const states: string[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      if (stat.slice(stat.indexOf('(') + 1, close) === comm) states.push(stat.slice(close + 2, close + 3));
    } catch {
      // gone
    }
  }
  return states;
}

function started(command: string, args: readonly string[]): Promise<ChildProcess> {
  const child = spawn(command, [...args], { stdio: 'ignore' });
  return new Promise((resolve, reject) => {
    child.once('spawn', () => resolve(child));
    child.once('error', reject);
  });
}

async function end(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  process.kill(child.pid, 'SIGKILL');
  await gone;
}

test('process probe: counts matches by command line against minCount, sees one end, ignores zombies', async () => {
  const unique = `31${process.pid}.${Date.now() % 100000}`; // an argv no other process has
  const a = await started('sleep', [unique]);
  const b = await started('sleep', [unique]);
  const name = `sleep ${unique}`;
  try {
    await until(() => {
      const cmd = (pid: number | undefined): string => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        } catch {
          return '';
        }
      };
      return cmd(a.pid).includes(unique) && cmd(b.pid).includes(unique);
    }, 'both sleeps have exec()ed', 5000, 5);
    const two = await processProbe({ type: 'process', name, minCount: 2 }, 2000);
    assert.equal(two.ok, true, two.detail);
    assert.match(two.detail, /2 running \(pid \d+, \d+\), need 2/);
    assert.ok(two.detail.includes(String(a.pid)) && two.detail.includes(String(b.pid)));
    const three = await probe({ type: 'process', name, minCount: 3 }, 2000);
    assert.equal(three.ok, false);
    assert.match(three.detail, /2 running .*need 3/);
    await end(a);
    const one = await probe({ type: 'process', name, minCount: 2 }, 2000);
    assert.equal(one.ok, false, one.detail);
    assert.match(one.detail, new RegExp(`1 running \\(pid ${b.pid}\\), need 2`));
    const byComm = await probe({ type: 'process', name: 'sleep', minCount: 1 }, 2000);
    assert.equal(byComm.ok, true, byComm.detail);
  } finally {
    await end(a);
    await end(b);
  }
  const none = await probe({ type: 'process', name, minCount: 1 }, 2000);
  assert.equal(none.ok, false);
  assert.match(none.detail, /0 running, need 1/);

  // Zombies do not count: a copy of sleep under a unique name (its comm) that execs into
  // the parent of an unreaped child of the same name.
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-health-proc-'));
  const comm = `vz${process.pid % 100000}${Date.now() % 1000}`.slice(0, 15);
  const bin = path.join(dir, comm);
  copyFileSync('/bin/sleep', bin);
  chmodSync(bin, 0o755);
  const parent = await started('/bin/sh', ['-c', `${bin} 0.05 & exec ${bin} 300`]);
  try {
    await until(() => {
      const s = statesOf(comm);
      return s.includes('Z') && s.some((x) => x !== 'Z');
    }, 'one alive and one zombie of that name', 5000, 5);
    const alive = await probe({ type: 'process', name: comm, minCount: 1 }, 2000);
    assert.equal(alive.ok, true, alive.detail);
    assert.match(alive.detail, new RegExp(`1 running \\(pid ${parent.pid}\\)`));
  } finally {
    await end(parent);
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------- script

test('script probe: exit 0 passes with its arguments; exit 1 fails with its output; a hang is killed with its children; unsafe scripts are refused', { skip: isRoot ? false : 'needs root (scripts must be root-owned)' }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-health-script-'));
  const script = (name: string, body: string, mode = 0o755): string => {
    const file = path.join(dir, name);
    writeFileSync(file, `#!/bin/sh\n${body}\n`);
    chmodSync(file, mode);
    return file;
  };
  try {
    const ok = script('ok.sh', '[ "$1" = alpha ] && [ "$2" = "b c" ] || exit 3\necho fine\nexit 0');
    const passed = await scriptProbe({ type: 'script', path: ok, args: ['alpha', 'b c'] }, 2000);
    assert.equal(passed.ok, true, passed.detail);
    assert.equal(passed.detail, `${ok} alpha b c: exit 0`);
    const wrongArgs = await probe({ type: 'script', path: ok, args: ['beta'] }, 2000);
    assert.equal(wrongArgs.ok, false);
    assert.match(wrongArgs.detail, /: exit 3$/);

    const fail = script('fail.sh', 'echo "backend down" >&2\nexit 1');
    const failed = await probe({ type: 'script', path: fail, args: [] }, 2000);
    assert.equal(failed.ok, false);
    assert.equal(failed.detail, `${fail}: exit 1 (backend down)`);

    const pidFile = path.join(dir, 'child.pid');
    const hang = script('hang.sh', `sleep 300 &\necho $! > ${pidFile}\nwait`);
    const hung = await probe({ type: 'script', path: hang, args: [] }, 300);
    assert.equal(hung.ok, false);
    assert.equal(hung.detail, `${hang}: timed out after 300 ms`);
    assert.ok(hung.elapsedMs >= 290 && hung.elapsedMs < 1500, `gave up after ${hung.elapsedMs} ms`);
    const grandchild = Number(readFileSync(pidFile, 'utf8').trim());
    assert.ok(grandchild > 0);
    await until(() => {
      try {
        process.kill(grandchild, 0);
        return / [ZX] /.test(readFileSync(`/proc/${grandchild}/stat`, 'utf8').slice(readFileSync(`/proc/${grandchild}/stat`, 'utf8').lastIndexOf(')')));
      } catch {
        return true; // ESRCH: gone
      }
    }, 'the script’s own child is gone too', 2000, 5);

    // Exits 0 at once but leaves a child holding its output: the result must not wait for that child.
    const pidFile2 = path.join(dir, 'bg.pid');
    const leaves = script('leaves.sh', `sleep 300 &\necho $! > ${pidFile2}\nexit 0`);
    try {
      const quick = await probe({ type: 'script', path: leaves, args: [] }, 5000);
      assert.equal(quick.ok, true, quick.detail);
      assert.ok(quick.elapsedMs < 2000, `waited ${quick.elapsedMs} ms for the leftover child`);
    } finally {
      const bg = Number(readFileSync(pidFile2, 'utf8').trim());
      if (bg > 0) {
        try {
          process.kill(bg, 'SIGKILL'); // started (indirectly) by this test; ended by PID
        } catch {
          // gone
        }
      }
    }

    const open = script('open.sh', 'exit 0', 0o777);
    chmodSync(open, 0o777);
    const refusedOpen = await probe({ type: 'script', path: open, args: [] }, 2000);
    assert.equal(refusedOpen.ok, false);
    assert.match(refusedOpen.detail, /^refused: .*open\.sh is writable by others \(mode 777\)$/);
    const group = script('group.sh', 'exit 0');
    chmodSync(group, 0o775);
    assert.match((await probe({ type: 'script', path: group, args: [] }, 2000)).detail, /writable by its group/);
    const owned = script('owned.sh', 'exit 0');
    chownSync(owned, 1000, 1000);
    assert.match((await probe({ type: 'script', path: owned, args: [] }, 2000)).detail, /owned by uid 1000, not root/);
    const missing = await probe({ type: 'script', path: path.join(dir, 'missing.sh'), args: [] }, 2000);
    assert.equal(missing.ok, false);
    assert.match(missing.detail, /ENOENT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------- checker

function config(spec: HealthCheckSpec, over: Partial<HealthCheckConfig> = {}): HealthCheckConfig {
  return { name: 'web', spec, intervalMs: 40, timeoutMs: 200, rise: 2, fall: 3, weight: -20, instances: ['VI_1'], ...over };
}

test('checker: a TCP check rises after rise successes, falls after fall failures, rises again (real listener)', async () => {
  const server = createTcpServer((s) => s.destroy());
  const port = await listen(server);
  const transitions: { t: Transition; status: CheckStatus }[] = [];
  const results: CheckResult[] = [];
  const checker = new HealthChecker(config({ type: 'tcp', address: ip('127.0.0.1'), port }), {
    onResult: (r) => results.push(r),
    onTransition: (t, status) => transitions.push({ t, status }),
  });
  assert.equal(checker.status().state, 'unknown');
  checker.start();
  let reopened: Server | undefined;
  try {
    await until(() => transitions.length >= 1, 'healthy', 5000, 5);
    assert.equal(transitions[0]?.t.from, 'unknown');
    assert.equal(transitions[0]?.t.to, 'healthy');
    assert.equal(transitions[0]?.status.successes, 2, 'healthy exactly at the rise-th success');
    assert.equal(transitions[0]?.status.consecutiveSuccesses, 2);
    assert.match(transitions[0]?.t.reason ?? '', /2 successes in a row \(rise 2\); last: 127\.0\.0\.1:\d+: connected/);

    await close(server);
    const failuresBefore = checker.status().failures;
    await until(() => transitions.length >= 2, 'unhealthy', 5000, 5);
    assert.equal(transitions[1]?.t.to, 'unhealthy');
    assert.equal(transitions[1]?.status.consecutiveFailures, 3);
    assert.equal(transitions[1]?.status.failures, failuresBefore + 3);
    assert.equal(checker.status().healthy, false);
    assert.match(checker.status().last?.detail ?? '', /ECONNREFUSED/);

    reopened = createTcpServer((s) => s.destroy());
    await listen(reopened, '127.0.0.1', port);
    await until(() => transitions.length >= 3, 'healthy again', 5000, 5);
    assert.equal(transitions[2]?.t.to, 'healthy');
    assert.equal(transitions[2]?.status.consecutiveSuccesses, 2);
    assert.deepEqual(
      transitions.map((x) => x.t.to),
      ['healthy', 'unhealthy', 'healthy'],
    );
    // Results arrive roughly on the interval (bounded below: never faster than the interval, with a little clock slack).
    const gaps = results.slice(1).map((r, i) => r.at - (results[i]?.at ?? 0));
    const medianGap = [...gaps].sort((x, y) => x - y)[Math.floor(gaps.length / 2)] ?? 0;
    assert.ok(medianGap >= 30 && medianGap < 400, `median gap ${medianGap} ms for a 40 ms interval`);
  } finally {
    await checker.stop();
    if (reopened) await close(reopened);
    await close(server).catch(() => undefined);
  }
  const count = results.length;
  await sleep(120);
  assert.equal(results.length, count, 'no results after stop()');
});

test('checker: runs never overlap; a slow probe is waited for, not counted as failed', async () => {
  let running = 0;
  let maxRunning = 0;
  let calls = 0;
  const slow = async (): Promise<ProbeResult> => {
    calls++;
    running++;
    maxRunning = Math.max(maxRunning, running);
    await sleep(120);
    running--;
    return { ok: true, detail: 'slow but fine', elapsedMs: 120 };
  };
  const results: CheckResult[] = [];
  const checker = new HealthChecker(config({ type: 'tcp', address: ip('127.0.0.1'), port: 1 }, { intervalMs: 30, timeoutMs: 1000 }), { onResult: (r) => results.push(r) }, { probe: slow });
  checker.start();
  await until(() => results.length >= 4, '4 results', 5000, 5);
  await checker.stop();
  assert.equal(maxRunning, 1);
  assert.ok(results.every((r) => r.ok));
  assert.equal(checker.status().state, 'healthy');
  // Back to back: each started when the previous settled, so no faster than ~120 ms apart.
  const gaps = results.slice(1).map((r, i) => r.at - (results[i]?.at ?? 0));
  assert.ok(gaps.every((g) => g >= 100), `gaps ${gaps.join(', ')}`);
  assert.ok(calls <= results.length + 1);
});

test('checker: a hung probe counts as failed at its timeout, each due run meanwhile is a failure, and the next probe waits for it', async () => {
  let calls = 0;
  let running = 0;
  let maxRunning = 0;
  let release: ((r: ProbeResult) => void) | undefined;
  const fake = (): Promise<ProbeResult> => {
    calls++;
    running++;
    maxRunning = Math.max(maxRunning, running);
    const done = (): void => {
      running--;
    };
    if (calls === 2) {
      return new Promise<ProbeResult>((r) => {
        release = r;
      }).finally(done);
    }
    done();
    return Promise.resolve({ ok: true, detail: 'fine', elapsedMs: 1 });
  };
  const results: CheckResult[] = [];
  const transitions: Transition[] = [];
  const checker = new HealthChecker(
    config({ type: 'tcp', address: ip('127.0.0.1'), port: 1 }, { intervalMs: 50, timeoutMs: 100, rise: 1, fall: 3 }),
    { onResult: (r) => results.push(r), onTransition: (t) => transitions.push(t) },
    { probe: fake, timeoutGraceMs: 20 },
  );
  checker.start();
  try {
    await until(() => transitions.some((t) => t.to === 'unhealthy'), 'unhealthy', 5000, 5);
    assert.deepEqual(
      transitions.map((t) => t.to),
      ['healthy', 'unhealthy'],
    );
    assert.equal(calls, 2, 'no new probe while one is hung');
    assert.match(results[1]?.detail ?? '', /^timed out after 100 ms \(the probe did not settle\)$/);
    assert.ok(results.slice(2).every((r) => !r.ok && /previous probe still running/.test(r.detail)), results.map((r) => r.detail).join(' | '));
    assert.equal(checker.status().running, true);
    const before = results.length;
    release?.({ ok: true, detail: 'late', elapsedMs: 999 });
    await until(() => calls >= 3 && results.length > before, 'the next probe ran', 5000, 5);
    assert.equal(results[before]?.detail, 'fine', 'the late result is not counted; the next probe ran at once');
    assert.equal(transitions.at(-1)?.to, 'healthy');
    assert.equal(maxRunning, 1);
  } finally {
    await checker.stop();
  }
});

test('checker: refuses unusable configs', () => {
  const spec: HealthCheckSpec = { type: 'tcp', address: ip('127.0.0.1'), port: 1 };
  assert.throws(() => new HealthChecker(config(spec, { rise: 0 })), /rise must be an integer/);
  assert.throws(() => new HealthChecker(config(spec, { intervalMs: 0 })), /interval must be > 0/);
  assert.throws(() => new HealthChecker(config(spec, { timeoutMs: Number.NaN })), /timeout must be > 0/);
});
