/**
 * A private D-Bus system-like bus for tests: Debian's dbus-daemon with the default policy
 * of Debian's system.conf (deny own and method calls unless a policy allows them) and
 * vigil's packaged policy file included, listening on a socket in a temporary directory.
 * Ended by its PID.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './vectors.js';

export const POLICY_FILE = path.join(REPO_ROOT, 'packaging', 'dbus', 'org.keepalived.Vrrp1.conf');

export function dbusSkipReason(): string | false {
  if (process.getuid?.() !== 0) return 'the D-Bus policy test needs root (root owns the name; nobody is refused)';
  for (const tool of ['dbus-daemon', 'busctl', 'gdbus', 'dbus-monitor', 'setpriv']) {
    const r = spawnSync(tool, ['--version'], { encoding: 'utf8' });
    if (r.error) return `${tool} is not installed (Debian packages dbus, systemd, libglib2.0-bin, util-linux)`;
  }
  return false;
}

export class PrivateBus {
  private constructor(
    readonly address: string,
    private child: ChildProcess,
    private readonly dir: string,
  ) {}

  static async start(): Promise<PrivateBus> {
    const dir = mkdtempSync(path.join(tmpdir(), 'vigil-dbus-'));
    const { address, child } = await PrivateBus.launch(dir);
    return new PrivateBus(address, child, dir);
  }

  /** Ends the dbus-daemon and starts another on the same socket (a bus restart under its clients). */
  async restart(): Promise<void> {
    await this.end();
    this.child = (await PrivateBus.launch(this.dir)).child;
  }

  private static async launch(dir: string): Promise<{ address: string; child: ChildProcess }> {
    // nobody must reach the socket to be refused by the policy (not by the file system).
    chmodSync(dir, 0o755);
    const config = path.join(dir, 'bus.conf');
    writeFileSync(
      config,
      `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=${dir}/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Monitoring"/>
  </policy>
  <include>${POLICY_FILE}</include>
</busconfig>
`,
    );
    const child = spawn('dbus-daemon', [`--config-file=${config}`, '--nofork', '--nopidfile', '--print-address=1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const address = await new Promise<string>((resolve, reject) => {
      let out = '';
      let err = '';
      const timer = setTimeout(() => reject(new Error(`dbus-daemon printed no address in 5 s: ${err}`)), 5000);
      child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        const line = out.split('\n')[0];
        if (out.includes('\n') && line) {
          clearTimeout(timer);
          // Without the guid, as a configured address is (and it stays valid across a restart).
          resolve(line.trim().replace(/,guid=[0-9a-f]+/, ""));
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`dbus-daemon exited (${code}): ${err}`));
      });
    });
    return { address, child };
  }

  private async end(): Promise<void> {
    if (this.child.exitCode === null && this.child.pid !== undefined) {
      const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      process.kill(this.child.pid, 'SIGTERM');
      await exited;
    }
  }

  async stop(): Promise<void> {
    await this.end();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
