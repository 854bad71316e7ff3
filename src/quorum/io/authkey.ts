/**
 * The cluster's shared heartbeat key (the HMAC-SHA256 key of heartbeat.ts).
 *
 * File format: the key's bytes in standard base64 (RFC 4648 §4, with padding) on one
 * line, ending in a newline; `generateKey()` makes 32 random bytes (44 base64
 * characters). Text rather than raw bytes so it survives being pasted, templated or
 * copied through configuration management; copy the same file to every node.
 *
 * The file must be a regular file owned by root (uid 0) with no permission bits for
 * group or others (0600 or 0400): `readKeyFile` refuses anything else, naming the path
 * and the mode, and refuses a key shorter than 32 bytes, as sshd does with host keys.
 * `writeKeyFile` creates it 0600, atomically (a temporary file in the same directory,
 * then link(2) — which fails if the file exists — or, when forced, rename(2)), so a
 * crash never leaves a partial key under the real name, and never overwrites an
 * existing key unless forced.
 */
import { randomBytes } from 'node:crypto';
import { constants, promises as fs } from 'node:fs';
import path from 'node:path';
import { errorText } from '../../base/error-text.js';

export const DEFAULT_KEY_PATH = '/etc/vigil/authkey';
/** Bytes of randomness in a generated key. */
export const KEY_LENGTH = 32;
/** The shortest key readKeyFile accepts. */
export const MIN_KEY_LENGTH = 32;
/** The longest key file read (a key is 44 characters; this is only a sanity bound). */
const MAX_FILE_LENGTH = 4096;

/** A key file problem, with the path, for the message the operator sees. */
export class KeyFileError extends Error {
  override readonly name = 'KeyFileError';
  constructor(
    readonly path: string,
    readonly code: 'exists' | 'not-found' | 'not-regular' | 'bad-owner' | 'bad-mode' | 'too-short' | 'too-long' | 'bad-format' | 'io',
    message: string,
  ) {
    super(message);
  }
}

export function generateKey(length: number = KEY_LENGTH): Buffer {
  if (!Number.isInteger(length) || length < MIN_KEY_LENGTH) throw new RangeError(`key length ${length}: at least ${MIN_KEY_LENGTH} bytes`);
  return randomBytes(length);
}

/** The file's text for `key`. */
export function formatKey(key: Uint8Array): string {
  return `${Buffer.from(key).toString('base64')}\n`;
}

/** The key in a key file's text, or an error message. */
export function parseKey(text: string): { ok: true; key: Buffer } | { ok: false; message: string } {
  const body = text.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body) || body.length % 4 !== 0) return { ok: false, message: 'is not one line of base64' };
  const key = Buffer.from(body, 'base64');
  if (key.length < MIN_KEY_LENGTH) return { ok: false, message: `holds a ${key.length}-byte key, at least ${MIN_KEY_LENGTH} bytes are needed` };
  return { ok: true, key };
}

function mode(m: number): string {
  return `0${(m & 0o7777).toString(8).padStart(3, '0')}`;
}

export interface WriteKeyOptions {
  /** Replace an existing file. */
  readonly force?: boolean;
  /** The key to write; default generateKey(). */
  readonly key?: Uint8Array;
}

/**
 * Writes a new key file at `file` with mode 0600 (owned by the caller: root, for the
 * daemon), creating its directory (0700) if missing. Resolves to the key written.
 */
export async function writeKeyFile(file: string, options: WriteKeyOptions = {}): Promise<Buffer> {
  const key = Buffer.from(options.key ?? generateKey());
  if (key.length < MIN_KEY_LENGTH) throw new RangeError(`key of ${key.length} bytes: at least ${MIN_KEY_LENGTH} are needed`);
  const dir = path.dirname(path.resolve(file));
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  if (options.force !== true && (await exists(file))) {
    throw new KeyFileError(file, 'exists', `${file} already exists; not overwriting a key (use --force to replace it)`);
  }
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await fs.open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    try {
      await handle.chmod(0o600); // the umask can only remove bits; make it exact anyway
      await handle.writeFile(formatKey(key), 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (options.force === true) {
      await fs.rename(temp, file);
    } else {
      try {
        await fs.link(temp, file);
      } catch (e) {
        if (isErrno(e, 'EEXIST')) throw new KeyFileError(file, 'exists', `${file} already exists; not overwriting a key (use --force to replace it)`);
        throw e;
      }
    }
  } finally {
    await fs.rm(temp, { force: true });
  }
  return key;
}

export interface ReadKeyOptions {
  /** The owner required; default 0 (root). */
  readonly ownerUid?: number;
}

/** Reads and checks a key file (owner, mode, length, format). Throws KeyFileError naming the path. */
export async function readKeyFile(file: string, options: ReadKeyOptions = {}): Promise<Buffer> {
  const owner = options.ownerUid ?? 0;
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) throw new KeyFileError(file, 'not-found', `${file}: no such key file (create one with \`vigil keygen --file ${file}\`)`);
    if (isErrno(e, 'ELOOP')) throw new KeyFileError(file, 'not-regular', `${file}: is a symbolic link; the key file must be a regular file`);
    throw new KeyFileError(file, 'io', `${file}: ${errorText(e)}`);
  }
  try {
    // Checked on the open descriptor, so the file cannot be swapped between check and read.
    const st = await handle.stat();
    if (!st.isFile()) throw new KeyFileError(file, 'not-regular', `${file}: not a regular file`);
    if (st.uid !== owner) throw new KeyFileError(file, 'bad-owner', `${file}: owned by uid ${st.uid}, must be owned by ${owner === 0 ? 'root' : `uid ${owner}`} (chown ${owner === 0 ? 'root:root' : owner} ${file})`);
    if ((st.mode & 0o077) !== 0) {
      throw new KeyFileError(file, 'bad-mode', `${file}: mode ${mode(st.mode)} lets group or others read or write the key; it must be 0600 or 0400 (chmod 600 ${file})`);
    }
    if (st.size > MAX_FILE_LENGTH) throw new KeyFileError(file, 'too-long', `${file}: ${st.size} bytes, not a key file`);
    const text = (await handle.readFile()).toString('utf8');
    const parsed = parseKey(text);
    if (!parsed.ok) throw new KeyFileError(file, parsed.message.startsWith('holds') ? 'too-short' : 'bad-format', `${file}: ${parsed.message}`);
    return parsed.key;
  } finally {
    await handle.close();
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.lstat(file);
    return true;
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return false;
    throw e;
  }
}

function isErrno(e: unknown, code: string): boolean {
  return e instanceof Error && (e as { code?: unknown }).code === code;
}
