/**
 * systemd's notification protocol (sd_notify(3)): one datagram of newline-separated
 * KEY=VALUE assignments sent to the AF_UNIX socket named by $NOTIFY_SOCKET, a path or,
 * when it starts with '@', an abstract name. Sent from this process itself, so systemd's
 * default NotifyAccess=main accepts it.
 *
 * Watchdog (sd_watchdog_enabled(3)): WATCHDOG_USEC gives the interval, WATCHDOG_PID (if
 * set) the process meant; "it is recommended that a daemon sends a keep-alive
 * notification message to the service manager every half of the time returned here".
 */
import { SOCK_DGRAM, native, syscall } from '../native/index.js';
import { sockaddrUn } from '../net/sockaddr.js';
import { AF_UNIX } from '../net/af.js';

export type NotifyEnvironment = Readonly<Record<string, string | undefined>>;

/** The datagram for `state`, e.g. { READY: '1', STATUS: 'master on eth0' } → "READY=1\nSTATUS=master on eth0\n". */
export function formatNotifyMessage(state: Readonly<Record<string, string>>): string {
  let out = '';
  for (const [key, value] of Object.entries(state)) {
    if (key.length === 0 || key.includes('=') || key.includes('\n')) throw new RangeError(`invalid sd_notify key "${key}"`);
    if (value.includes('\n')) throw new RangeError(`the sd_notify value of ${key} contains a newline`);
    out += `${key}=${value}\n`;
  }
  return out;
}

/**
 * Sends `state` to $NOTIFY_SOCKET. Returns false (and does nothing) when the variable is
 * unset or empty, true once sent. Throws SyscallError when the send fails (e.g. ENOENT,
 * ECONNREFUSED: no one listens) and RangeError for an unusable address or message.
 */
export function sdNotify(state: Readonly<Record<string, string>>, env: NotifyEnvironment = process.env): boolean {
  const socketPath = env['NOTIFY_SOCKET'];
  if (!socketPath) return false;
  if (!socketPath.startsWith('/') && !socketPath.startsWith('@')) {
    throw new RangeError(`NOTIFY_SOCKET "${socketPath}" is neither a path nor an abstract name (@...)`);
  }
  const address = sockaddrUn(socketPath);
  const message = Buffer.from(formatNotifyMessage(state), 'utf8');
  const n = native();
  const fd = syscall(`NOTIFY_SOCKET ${socketPath}`, () => n.socket(AF_UNIX, SOCK_DGRAM, 0));
  try {
    syscall(`NOTIFY_SOCKET ${socketPath}`, () => n.sendto(fd, message, address));
  } finally {
    n.close(fd);
  }
  return true;
}

/**
 * How often to send WATCHDOG=1, in milliseconds: half of WATCHDOG_USEC, or undefined when
 * the watchdog is off, the value is invalid, or WATCHDOG_PID names another process.
 */
export function watchdogInterval(env: NotifyEnvironment = process.env, pid: number = process.pid): number | undefined {
  const usecText = env['WATCHDOG_USEC'];
  if (!usecText || !/^\d+$/.test(usecText)) return undefined;
  const usec = Number(usecText);
  if (!Number.isSafeInteger(usec) || usec <= 0) return undefined;
  const pidText = env['WATCHDOG_PID'];
  if (pidText !== undefined && pidText !== '') {
    if (!/^\d+$/.test(pidText) || Number(pidText) !== pid) return undefined;
  }
  return usec / 2 / 1000;
}
