/**
 * systemd's notification protocol, against a real AF_UNIX datagram socket standing in
 * for systemd (path and abstract names), and `vigil run` in a lab namespace telling it
 * READY=1, RELOADING=1, WATCHDOG=1 and STOPPING=1 as systemd's Type=notify expects.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { SOCK_DGRAM, native } from '../src/native/index.js';
import { sockaddrUn } from '../src/net/sockaddr.js';
import { formatNotifyMessage, sdNotify, watchdogInterval } from '../src/daemon/sd-notify.js';
import { labAvailable, withLab } from '../src/lab/netns.js';
import { VIGIL_MAIN, configYaml, instanceYaml } from '../src/lab/vigil.js';
import { AF_UNIX } from '../src/net/af.js';
import { errorText } from '../src/base/error-text.js';
import { sleep } from '../src/lab/wait.js';

function addonMissing(): string | false {
  try {
    native();
    return false;
  } catch (e) {
    return errorText(e);
  }
}
const noAddon = addonMissing();
const noLab = noAddon || (labAvailable().ok ? false : 'the lab needs root and iproute2');

/** A datagram socket listening like systemd's notify socket. */
class NotifyListener {
  readonly fd: number;
  readonly messages: string[] = [];
  private readonly poll;

  constructor(readonly address: string) {
    const n = native();
    this.fd = n.socket(AF_UNIX, SOCK_DGRAM, 0);
    n.bind(this.fd, sockaddrUn(address));
    this.poll = n.poll(this.fd, () => {
      for (;;) {
        const m = n.recvmsg(this.fd, 4096, 0);
        if (!m) return;
        this.messages.push(m.data.toString('utf8'));
      }
    });
  }

  async waitFor(pred: (m: string) => boolean, what: string, timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(pred);
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms; got ${JSON.stringify(this.messages)}`);
      await sleep(10);
    }
  }

  close(): void {
    this.poll.stop();
    native().close(this.fd);
  }
}

test('sd_notify: the datagram is KEY=VALUE lines; bad keys and values are refused', () => {
  assert.equal(formatNotifyMessage({ READY: '1', STATUS: 'master on eth0' }), 'READY=1\nSTATUS=master on eth0\n');
  assert.throws(() => formatNotifyMessage({ 'A=B': '1' }), RangeError);
  assert.throws(() => formatNotifyMessage({ STATUS: 'two\nlines' }), RangeError);
});

test('sd_notify: nothing is sent without NOTIFY_SOCKET; a relative name is refused', () => {
  assert.equal(sdNotify({ READY: '1' }, {}), false);
  assert.equal(sdNotify({ READY: '1' }, { NOTIFY_SOCKET: '' }), false);
  assert.throws(() => sdNotify({ READY: '1' }, { NOTIFY_SOCKET: 'relative/path' }), RangeError);
});

test('sd_notify: watchdog interval is half of WATCHDOG_USEC, only for our PID', () => {
  assert.equal(watchdogInterval({ WATCHDOG_USEC: '2000000' }, 42), 1000);
  assert.equal(watchdogInterval({ WATCHDOG_USEC: '2000000', WATCHDOG_PID: '42' }, 42), 1000);
  assert.equal(watchdogInterval({ WATCHDOG_USEC: '2000000', WATCHDOG_PID: '43' }, 42), undefined);
  assert.equal(watchdogInterval({ WATCHDOG_USEC: 'soon' }, 42), undefined);
  assert.equal(watchdogInterval({ WATCHDOG_USEC: '0' }, 42), undefined);
  assert.equal(watchdogInterval({}, 42), undefined);
});

test('sd_notify: reaches a listener on a path and on an abstract name; a missing listener is an error naming the socket', { skip: noAddon }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-notify-'));
  const onPath = new NotifyListener(path.join(dir, 'notify'));
  const abstractName = `@vigil-test-${randomBytes(4).toString('hex')}`;
  const onAbstract = new NotifyListener(abstractName);
  try {
    assert.equal(sdNotify({ READY: '1', STATUS: 'up' }, { NOTIFY_SOCKET: onPath.address }), true);
    assert.equal(sdNotify({ WATCHDOG: '1' }, { NOTIFY_SOCKET: abstractName }), true);
    assert.equal(await onPath.waitFor((m) => m.includes('READY=1'), 'READY on the path'), 'READY=1\nSTATUS=up\n');
    assert.equal(await onAbstract.waitFor((m) => m.includes('WATCHDOG=1'), 'WATCHDOG on the abstract name'), 'WATCHDOG=1\n');
    assert.throws(
      () => sdNotify({ READY: '1' }, { NOTIFY_SOCKET: path.join(dir, 'nobody') }),
      (e: Error) => e.name === 'SyscallError' && e.message.includes(path.join(dir, 'nobody')) && /ENOENT|ECONNREFUSED/.test(e.message),
    );
  } finally {
    onPath.close();
    onAbstract.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('vigil run: READY=1 once running, RELOADING=1 then READY=1 on SIGHUP, WATCHDOG=1 at half WATCHDOG_USEC, STOPPING=1 on SIGTERM; control socket root-only', { skip: noLab }, async () => {
  await withLab({ hosts: ['a'] }, async (lab) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vigil-notify-run-'));
    // A path: abstract names belong to a network namespace, and vigil runs in the lab's.
    const listener = new NotifyListener(path.join(dir, 'notify'));
    try {
      const config = path.join(dir, 'vigil.yaml');
      const runtimeDir = path.join(dir, 'run');
      writeFileSync(config, configYaml(instanceYaml({ vrid: 60, priority: 150, vips: ['10.213.0.160/24'] })));
      const child = lab.spawn('a', process.execPath, [VIGIL_MAIN, 'run', '-c', config, '--runtime-dir', runtimeDir], {
        env: { ...process.env, NOTIFY_SOCKET: listener.address, WATCHDOG_USEC: '200000' },
      });
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      const ready = await listener.waitFor((m) => m.includes('READY=1'), 'READY=1', 10000);
      assert.match(ready, /STATUS=1 instances/);
      assert.match(ready, new RegExp(`MAINPID=${child.pid}`));
      await listener.waitFor((m) => m === 'WATCHDOG=1\n', 'WATCHDOG=1');
      // Root-only: the directory 0700 and the socket 0600.
      assert.equal(statSync(runtimeDir).mode & 0o777, 0o700);
      assert.equal(statSync(path.join(runtimeDir, 'vigil.sock')).mode & 0o777, 0o600);

      const before = listener.messages.length;
      process.kill(child.pid as number, 'SIGHUP');
      await listener.waitFor((m) => m.startsWith('RELOADING=1'), 'RELOADING=1');
      const readyAgain = listener.messages.slice(before).findIndex((m) => m.includes('READY=1'));
      const reloading = listener.messages.slice(before).findIndex((m) => m.startsWith('RELOADING=1'));
      await listener.waitFor((m) => listener.messages.indexOf(m) > before + reloading && m.includes('READY=1'), 'READY=1 after the reload');
      assert.ok(readyAgain === -1 || readyAgain > reloading, 'READY=1 comes after RELOADING=1');

      process.kill(child.pid as number, 'SIGTERM');
      await listener.waitFor((m) => m.includes('STOPPING=1'), 'STOPPING=1');
      assert.equal(await exited, 0);
    } finally {
      listener.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
