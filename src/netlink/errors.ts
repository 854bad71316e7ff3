import { errnoName } from './constants.js';
/**
 * Errors from rtnetlink operations, carrying what an operator needs to act on them:
 * the errno and its name, the operation, the object it concerned, and the kernel's
 * own explanation when it gave one (extended ack).
 *
 *   add 10.213.0.100/24 on eth0 (ifindex 2): EEXIST (errno 17) File exists
 */

/** Not kernel errnos: failures of our own side, given errno-like codes. */
export type LocalErrorCode = 'ETIMEDOUT' | 'EBADMSG' | 'ECLOSED' | 'EINVAL' | 'EINTR' | 'ENOTSUP';

export interface NetlinkErrorDetails {
  /** Positive errno; 0 if the error did not come from a syscall or the kernel. */
  readonly errno: number;
  /** 'EEXIST', 'ENODEV', …; or a local code such as 'ETIMEDOUT'. */
  readonly code: string;
  /** What we tried: 'add address', 'create macvlan', 'dump links'… */
  readonly operation: string;
  /** What it concerned: '10.213.0.100/24 on eth0 (ifindex 2)'. */
  readonly object: string;
  /** The kernel's extended-ack message, if any. */
  readonly kernelMessage?: string;
  readonly cause?: unknown;
}

const STRERROR: Readonly<Record<string, string>> = {
  EPERM: 'Operation not permitted',
  ENOENT: 'No such file or directory',
  EINTR: 'Interrupted (dump changed while it ran)',
  EBADMSG: 'Malformed reply',
  EEXIST: 'File exists',
  ENODEV: 'No such device',
  EINVAL: 'Invalid argument',
  ENOBUFS: 'No buffer space available',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  EADDRINUSE: 'Address already in use',
  EOPNOTSUPP: 'Operation not supported',
  EAFNOSUPPORT: 'Address family not supported by protocol',
  EBUSY: 'Device or resource busy',
  ERANGE: 'Numerical result out of range',
  ETIMEDOUT: 'No reply from the kernel in time',
  ECLOSED: 'The netlink socket is closed',
  ENOTSUP: 'Not supported',
};

export class NetlinkError extends Error {
  readonly errno: number;
  readonly code: string;
  readonly operation: string;
  readonly object: string;
  readonly kernelMessage: string | undefined;

  constructor(details: NetlinkErrorDetails) {
    const explanation = STRERROR[details.code] ?? '';
    const errnoText = details.errno > 0 ? ` (errno ${details.errno})` : '';
    const kernel = details.kernelMessage !== undefined && details.kernelMessage.length > 0 ? `: ${details.kernelMessage}` : '';
    super(`${details.operation} ${details.object}: ${details.code}${errnoText}${explanation ? ` ${explanation}` : ''}${kernel}`, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'NetlinkError';
    this.errno = details.errno;
    this.code = details.code;
    this.operation = details.operation;
    this.object = details.object;
    this.kernelMessage = details.kernelMessage;
  }

  /** From a kernel errno (positive). */
  static fromErrno(errno: number, operation: string, object: string, kernelMessage?: string): NetlinkError {
    return new NetlinkError({
      errno,
      code: errnoName(errno) ?? `errno ${errno}`,
      operation,
      object,
      ...(kernelMessage === undefined ? {} : { kernelMessage }),
    });
  }

  static local(code: LocalErrorCode, operation: string, object: string, detail?: string, cause?: unknown): NetlinkError {
    return new NetlinkError({
      errno: 0,
      code,
      operation,
      object,
      ...(detail === undefined ? {} : { kernelMessage: detail }),
      ...(cause === undefined ? {} : { cause }),
    });
  }

  /** The same failure, said of another operation and object (requests know the wire, callers the meaning). */
  withContext(operation: string, object: string): NetlinkError {
    return new NetlinkError({
      errno: this.errno,
      code: this.code,
      operation,
      object,
      ...(this.kernelMessage === undefined ? {} : { kernelMessage: this.kernelMessage }),
      ...(this.cause === undefined ? {} : { cause: this.cause }),
    });
  }
}

/** Errors thrown by the native syscalls (src/native): errno, code and syscall. */
export function syscallErrorInfo(e: unknown): { errno: number; code: string; syscall: string } | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const o = e as { errno?: unknown; code?: unknown; syscall?: unknown };
  if (typeof o.code !== 'string') return undefined;
  const errno = typeof o.errno === 'number' ? Math.abs(o.errno) : 0;
  return { errno, code: o.code, syscall: typeof o.syscall === 'string' ? o.syscall : '' };
}
