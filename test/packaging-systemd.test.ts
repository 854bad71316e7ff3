/**
 * The .deb installed as an administrator would, on a pristine Debian 13 booted with
 * systemd as PID 1 (systemd-nspawn; test/support/container.ts), in a lab network
 * namespace beside a peer vigil:
 *
 * - `apt-get install ./vigil_*.deb` pulls Debian's nodejs (>= 20) and vigil runs;
 * - `systemctl start vigil` reaches active (running) through Type=notify READY=1, the
 *   status shows vigil's STATUS= line, the logs are in the journal;
 * - under the unit's capabilities, exec resources run haproxy on port 80 (dropping to
 *   user haproxy) and nginx whose workers drop to www-data, and the OCF agent IPaddr2
 *   adds its address; stopping vigil stops them all (haproxy runs as another user);
 * - `systemctl reload` goes through RELOADING=1 to READY=1;
 * - the watchdog: a frozen daemon (SIGSTOP) is killed and restarted by systemd after
 *   WatchdogSec, the VIP moves to the peer meanwhile and back after, and the restarted
 *   vigil adopts the running haproxy;
 * - an upgrade to a package whose default config changed keeps the administrator's
 *   config (the new default lands beside it as .dpkg-dist);
 * - `apt-get purge` removes what the package and the daemon made.
 *
 * If the root cannot be made (no mirror) or the container does not boot, the test is
 * skipped with that reason.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Lab, run } from '../src/lab/netns.js';
import { VigilProcess, configYaml, holders, instanceYaml, waitHolders } from '../src/lab/vigil.js';
import { until } from '../src/lab/wait.js';
import { Container, REPO, containerSkipReason, debianRoot, nspawnRun } from './support/container.js';
import { errorText } from '../src/base/error-text.js';

const VIP = '10.213.0.100';
const MARKER = '# vigil-container-test: the administrator changed this file';

/** The administrator's config: master with priority 200, and three resources. */
function adminConfig(): string {
  return `${MARKER}
instances:
  - name: gw
    interface: eth0
    vrid: 51
    priority: 200
    advert_interval: 200ms
    virtual_ips: [${VIP}/24]
resources:
  - { name: haproxy, type: exec, command: [/usr/sbin/haproxy, -db, -f, /etc/vigil-test/haproxy.cfg], monitor_interval: 1s }
  - { name: nginx, type: exec, command: [/usr/sbin/nginx, -c, /etc/vigil-test/nginx.conf, -g, "daemon off;"], monitor_interval: 1s }
  - { name: ip2, type: ocf, agent: "heartbeat:IPaddr2", params: { ip: 10.213.0.102, cidr_netmask: 24, nic: eth0 }, monitor_interval: 2s }
`;
}

const HAPROXY_CFG = `global
  user haproxy
  group haproxy
defaults
  mode http
  timeout connect 1s
  timeout client 5s
  timeout server 5s
frontend web
  bind :80
  http-request return status 200 content-type text/plain string "haproxy under vigil"
`;

const NGINX_CONF = `user www-data;
worker_processes 2;
pid /run/vigil-test-nginx.pid;
error_log stderr;
events { worker_connections 64; }
http {
  access_log off;
  server {
    listen 81;
    location / { return 200 "nginx under vigil\\n"; }
  }
}
`;

/** Processes inside whose command line contains `needle`: pid and user id. */
async function processes(c: Container, needle: string): Promise<{ pid: number; uid: number }[]> {
  const r = await c.sh(`for d in /proc/[0-9]*; do [ "$d" = /proc/$$ ] && continue; c=$(tr '\\0' ' ' < $d/cmdline 2>/dev/null) || continue; case "$c" in *"${needle}"*) echo "\${d#/proc/} $(awk '/^Uid:/{print $2}' $d/status)";; esac; done`);
  return r.stdout
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split(' ').map(Number))
    .filter(([pid]) => pid !== undefined && !Number.isNaN(pid))
    .map(([pid, uid]) => ({ pid: pid ?? 0, uid: uid ?? -1 }));
}

/** A systemd time span as `systemctl show` prints it ("10s", "1min 30s", "500ms") in microseconds. */
function timespanUsec(text: string): number {
  const units: Record<string, number> = { us: 1, ms: 1e3, s: 1e6, min: 60e6, h: 3600e6 };
  let total = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(us|ms|s|min|h)\b/g)) total += Number(m[1]) * (units[m[2] ?? ''] ?? NaN);
  return /^\d+$/.test(text) ? Number(text) : total;
}

/** A copy of `deb` as version `version`, with `append` added to its default config. */
function repack(deb: string, dir: string, version: string, append: string): string {
  const tree = path.join(dir, 'repack');
  execFileSync('dpkg-deb', ['-R', deb, tree]);
  const control = path.join(tree, 'DEBIAN', 'control');
  writeFileSync(control, readFileSync(control, 'utf8').replace(/^Version: .*$/m, `Version: ${version}`));
  const conf = path.join(tree, 'etc', 'vigil', 'vigil.yaml');
  writeFileSync(conf, readFileSync(conf, 'utf8') + append);
  const md5 = execFileSync('md5sum', ['etc/vigil/vigil.yaml'], { cwd: tree, encoding: 'utf8' });
  const sums = path.join(tree, 'DEBIAN', 'md5sums');
  writeFileSync(sums, readFileSync(sums, 'utf8').replace(/^\S+ {2}etc\/vigil\/vigil\.yaml$/m, md5.trim()));
  const out = path.join(dir, `vigil_${version}.deb`);
  execFileSync('dpkg-deb', ['--root-owner-group', '--build', tree, out]);
  rmSync(tree, { recursive: true, force: true });
  return out;
}

test('packaging under systemd: install, start, reload, watchdog, resources, upgrade and purge on a booted Debian 13', { skip: containerSkipReason(), timeout: 600_000 }, async (t: TestContext) => {
  const made = await debianRoot('trixie');
  if ('error' in made) {
    t.skip(`no Debian 13 root: ${made.error}`);
    return;
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-container-'));
  const root = path.join(dir, 'root');
  let lab: Lab | undefined;
  let container: Container | undefined;
  let peer: VigilProcess | undefined;
  try {
    const deb = execFileSync('bash', [path.join(REPO, 'packaging', 'build-deb.sh'), dir], { cwd: REPO, encoding: 'utf8' }).trim();
    const version = execFileSync('dpkg-deb', ['-f', deb, 'Version'], { encoding: 'utf8' }).trim();
    const upgrade = repack(deb, dir, `${version}+upgrade1`, '# the new default of the upgrade\n');
    await run('cp', ['-a', made.root, root]);
    copyFileSync(deb, path.join(root, 'root', 'vigil.deb'));
    copyFileSync(upgrade, path.join(root, 'root', 'vigil-upgrade.deb'));

    // Install, not booted, on the host's network (apt reaches Debian's mirror as the host
    // does); policy-rc.d keeps every service from starting there.
    writeFileSync(path.join(root, 'usr', 'sbin', 'policy-rc.d'), '#!/bin/sh\nexit 101\n', { mode: 0o755 });
    const install = await nspawnRun(
      root,
      'apt-get update -qq && apt-get install -y -qq --no-install-recommends /root/vigil.deb haproxy nginx resource-agents >/root/apt.log 2>&1; ' +
        'rc=$?; tail -n 20 /root/apt.log; exit $rc',
      true,
    );
    if (install.code !== 0 && /Could not resolve|Failed to fetch|Temporary failure|Unable to connect/.test(install.stdout)) {
      t.skip(`apt inside the container cannot reach Debian's mirror: ${install.stdout.trim().split('\n').slice(-3).join(' / ')}`);
      return;
    }
    assert.equal(install.code, 0, `apt-get install ./vigil.deb: ${install.stdout}${install.stderr}`);
    const after = await nspawnRun(
      root,
      'rm /usr/sbin/policy-rc.d && systemctl disable -q nginx haproxy && dpkg-query -W -f "\\${Version}" nodejs && echo && vigil --version && vigil check-config >/dev/null && echo config-valid',
    );
    const [nodeVersion, vigilVersion, valid] = after.stdout.trim().split('\n');
    assert.ok(Number(nodeVersion?.split('.')[0]) >= 20, `Debian's nodejs pulled in: ${nodeVersion}`);
    assert.equal(vigilVersion, `vigil ${version}`);
    assert.equal(valid, 'config-valid', 'the shipped config is valid where it installs');

    // The administrator's changes: a config of their own, haproxy's and nginx's.
    lab = await Lab.create({ hosts: ['node', 'peer'], prefix: 'vpk' });
    const node = lab.host('node');
    writeFileSync(path.join(root, 'etc', 'vigil', 'vigil.yaml'), adminConfig());
    await run('mkdir', ['-p', path.join(root, 'etc', 'vigil-test')]);
    writeFileSync(path.join(root, 'etc', 'vigil-test', 'haproxy.cfg'), HAPROXY_CFG);
    writeFileSync(path.join(root, 'etc', 'vigil-test', 'nginx.conf'), NGINX_CONF);

    try {
      container = await Container.boot(root, `vpk${process.pid}`, `/run/netns/${node.ns}`);
    } catch (e) {
      t.skip(`the container cannot boot here: ${errorText(e)}`);
      return;
    }
    const c = container;
    peer = await VigilProcess.start(lab, 'peer', configYaml(instanceYaml({ vrid: 51, priority: 100, interval: '200ms', vips: [`${VIP}/24`] })));
    const l = lab;

    await t.test('systemctl start reaches active (running) through READY=1; STATUS= shows; logs in the journal', async () => {
      await c.exec('systemctl', ['log-level', 'debug']);
      await c.exec('systemctl', ['start', 'vigil']);
      assert.equal(await c.show('vigil', 'Type'), 'notify');
      assert.equal(await c.show('vigil', 'ActiveState'), 'active');
      assert.equal(await c.show('vigil', 'SubState'), 'running');
      await waitHolders(l, ['node', 'peer'], VIP, ['node'], 15_000);
      // STATUS= as sent with READY=1 (vigil sends it again on reload, not on each state change).
      assert.match(await c.show('vigil', 'StatusText'), /^1 instances: \d master, \d backup\/init, 0 fault$/);
      const status = await c.exec('systemctl', ['status', '--no-pager', 'vigil'], true);
      assert.match(status.stdout, /Active: active \(running\)/);
      assert.match(status.stdout, /Status: "1 instances: \d master, \d backup\/init, 0 fault"/);
      const journal = await c.exec('journalctl', ['-u', 'vigil', '-o', 'cat', '--no-pager']);
      assert.match(journal.stdout, /Got notification message from PID \d+: READY=1/);
      assert.match(journal.stdout, /started pid=\d+ config=\/etc\/vigil\/vigil.yaml/);
      assert.match(journal.stdout, /state-change instance=gw .*to=master/);
    });

    await t.test('under the unit: haproxy on port 80 as user haproxy, nginx workers as www-data, IPaddr2', async () => {
      let seen = '';
      await until(async () => {
        seen = (await c.exec('vigil', ['resource', 'status'], true)).stdout;
        return (seen.match(/: Started/g) ?? []).length === 3;
      }, () => `haproxy, nginx and ip2 started; vigil resource status:\n${seen}`, 30_000, 500);
      const [hp] = await processes(c, 'haproxy -db');
      assert.equal(hp?.uid, Number((await c.exec('id', ['-u', 'haproxy'])).stdout.trim()), 'haproxy dropped to its user');
      const workers = await processes(c, 'nginx: worker');
      assert.ok(workers.length === 2 && workers.every((w) => w.uid === 33), `nginx workers as www-data (33): ${JSON.stringify(workers)}`);
      const web = await l.exec('peer', 'curl', ['-s', '--max-time', '5', `http://${node.ipv4}/`]);
      assert.equal(web.stdout, 'haproxy under vigil');
      const web2 = await l.exec('peer', 'curl', ['-s', '--max-time', '5', `http://${node.ipv4}:81/`]);
      assert.equal(web2.stdout, 'nginx under vigil\n');
      assert.ok((await holders(l, ['node', 'peer'], '10.213.0.102')).includes('node'), 'IPaddr2 added its address');
    });

    await t.test('systemctl reload goes through RELOADING=1 to READY=1', async () => {
      const reloaded = await c.exec('systemctl', ['reload', 'vigil'], true);
      assert.equal(reloaded.code, 0, reloaded.stderr);
      await until(async () => /Changed reload-notify -> running/.test((await c.exec('journalctl', ['-u', 'vigil', '-o', 'cat', '--no-pager'])).stdout), () => 'reload-notify -> running', 15_000, 300);
      const journal = (await c.exec('journalctl', ['-u', 'vigil', '-o', 'cat', '--no-pager'])).stdout;
      assert.match(journal, /reload-requested signal=SIGHUP/, 'vigil got SIGHUP');
      const at = journal.lastIndexOf(': RELOADING=1');
      assert.ok(at >= 0, 'systemd got RELOADING=1');
      // RELOADING=1 puts the unit in reload-notify (from running, or from reload while
      // ExecReload still runs) until READY=1 with the new STATUS=.
      assert.match(journal.slice(at), /^: RELOADING=1, MONOTONIC_USEC=\d+\n[\s\S]*Changed (running|reload) -> reload-notify\n[\s\S]*: READY=1, STATUS=[^\n]*\n[\s\S]*Changed reload-notify -> running/);
      assert.equal(await c.show('vigil', 'ActiveState'), 'active');
      assert.equal(await c.show('vigil', 'StatusText'), '1 instances: 1 master, 0 backup/init, 0 fault', 'the STATUS= of the READY=1 after the reload');
    });

    await t.test('watchdog: a frozen vigil is killed and restarted; the VIP goes to the peer and comes back', async () => {
      const mainPid = await c.show('vigil', 'MainPID');
      // MainPID 0 (vigil not running) would make the `kill -STOP 0` below stop the test's own process group.
      assert.match(mainPid, /^[1-9]\d*$/, 'vigil has a main process to freeze');
      const [haproxyBefore] = await processes(c, 'haproxy -db');
      const watchdogUsec = timespanUsec(await c.show('vigil', 'WatchdogUSec'));
      assert.ok(watchdogUsec > 0, 'WatchdogSec is set');
      const frozenAt = Date.now();
      await c.sh(`kill -STOP ${mainPid}`);
      await until(async () => (await holders(l, ['node', 'peer'], VIP)).includes('peer'), () => 'the peer takes the VIP', 10_000, 100);
      await until(async () => Number(await c.show('vigil', 'NRestarts')) >= 1 && (await c.show('vigil', 'ActiveState')) === 'active', () => 'systemd restarted vigil', watchdogUsec / 1000 + 45_000, 500);
      const restartedAfter = Date.now() - frozenAt;
      // systemd's watchdog counts from the last WATCHDOG=1, sent every WatchdogSec/2: the
      // kill comes between WatchdogSec/2 and WatchdogSec after the freeze (then the restart).
      assert.ok(restartedAfter >= watchdogUsec / 2000, `restarted no sooner than WatchdogSec/2 after the freeze (${restartedAfter} ms)`);
      assert.notEqual(await c.show('vigil', 'MainPID'), mainPid);
      const journal = (await c.exec('journalctl', ['-u', 'vigil', '-o', 'cat', '--no-pager'])).stdout;
      assert.match(journal, /Watchdog timeout/);
      await waitHolders(l, ['node', 'peer'], VIP, ['node'], 20_000);
      // KillMode=process: haproxy outlived the daemon, and the new vigil adopted it.
      const [haproxyAfter] = await processes(c, 'haproxy -db');
      assert.equal(haproxyAfter?.pid, haproxyBefore?.pid, 'the same haproxy runs');
      await until(async () => ((await c.exec('vigil', ['resource', 'status'], true)).stdout.match(/: Started/g) ?? []).length === 3, () => 'resources started after the restart', 20_000, 500);
      t.diagnostic(`watchdog: restarted ${restartedAfter} ms after SIGSTOP (WatchdogSec ${watchdogUsec / 1e6} s)`);
    });

    await t.test('upgrade: the administrator\'s config stays, the new default lands beside it', async () => {
      const before = await c.show('vigil', 'MainPID');
      const up = await c.exec('apt-get', ['install', '-y', '-o', 'Dpkg::Options::=--force-confdef', '-o', 'Dpkg::Options::=--force-confold', '/root/vigil-upgrade.deb'], true);
      assert.equal(up.code, 0, up.stdout + up.stderr);
      assert.equal((await c.exec('dpkg-query', ['-W', '-f', '${Version}', 'vigil'])).stdout, `${version}+upgrade1`);
      const conf = await c.exec('cat', ['/etc/vigil/vigil.yaml']);
      assert.ok(conf.stdout.startsWith(MARKER), 'the changed config is kept');
      const dist = await c.exec('cat', ['/etc/vigil/vigil.yaml.dpkg-dist']);
      assert.match(dist.stdout, /# the new default of the upgrade\n$/);
      await until(async () => (await c.show('vigil', 'ActiveState')) === 'active' && (await c.show('vigil', 'MainPID')) !== before, () => 'vigil restarted on the new package', 30_000, 500);
    });

    await t.test('purge removes what the package and the daemon made, and stops what vigil ran', async () => {
      const purge = await c.exec('apt-get', ['purge', '-y', 'vigil'], true);
      assert.equal(purge.code, 0, purge.stdout + purge.stderr);
      const left = await c.sh('for f in /etc/vigil /var/lib/vigil /usr/lib/vigil /usr/bin/vigil /usr/lib/systemd/system/vigil.service /run/vigil; do [ -e $f ] && echo $f; done; true');
      assert.equal(left.stdout, '', 'nothing of vigil is left');
      assert.equal(await c.show('vigil', 'LoadState'), 'not-found');
      assert.deepEqual(await processes(c, 'haproxy -db'), [], 'haproxy stopped');
      assert.deepEqual(await processes(c, 'nginx: '), [], 'nginx stopped');
      await waitHolders(l, ['node', 'peer'], VIP, ['peer'], 10_000);
      assert.deepEqual(await holders(l, ['node', 'peer'], '10.213.0.102'), [], 'IPaddr2 removed its address');
    });
  } finally {
    await peer?.stop?.();
    await container?.stop();
    await lab?.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});
