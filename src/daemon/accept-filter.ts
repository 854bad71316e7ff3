/**
 * Accept_Mode false (RFC 5798 §6.4.3 (650)): a master that is not the address owner
 * "MUST NOT accept packets addressed to the IPvX address(es) associated with the virtual
 * router", except IPv6 Neighbor Solicitations and Advertisements, which "MUST NOT be
 * dropped" (§6.1). keepalived (vrrp_strict) does it with iptables/nftables; vigil does it
 * with one nftables table of its own, in the network namespace it runs in:
 *
 *     table inet vigil {
 *       set vips4 { type ipv4_addr; }        the VIPs of masters with accept false
 *       set vips6 { type ipv6_addr; }
 *       chain input {
 *         type filter hook input priority filter; policy accept;
 *         ip daddr @vips4 counter drop
 *         ip6 daddr @vips6 icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } counter accept
 *         ip6 daddr @vips6 counter drop
 *       }
 *     }
 *
 * ARP is not IP, so the kernel keeps answering it; VRRP adverts go to 224.0.0.18 / ff02::12
 * or to a router's own address, never to a VIP, so they pass. The addresses are added
 * before an instance installs its VIPs and removed after it removed them; the table is
 * removed (and any left by an earlier run that died) at start, and deleted at stop.
 *
 * The nft program is reached through the NftPort (ports.ts), one `nft -f -` transaction
 * per change. A failure is logged and counted, never thrown into the protocol core.
 */
import { spawn } from 'node:child_process';
import type { IpAddress } from '../net/address.js';
import type { Logger } from './logger.js';
import { errorText } from '../base/error-text.js';

export const NFT_FAMILY = 'inet';
export const NFT_TABLE = 'vigil';
const SET: Readonly<Record<IpAddress['family'], string>> = { ipv4: 'vips4', ipv6: 'vips6' };

/**
 * The port to nftables (re-exported by ports.ts with the daemon's other ports): runs one
 * script with `nft -f -` as one transaction, in the process's network namespace. Rejects
 * with NftNotFoundError when the program is missing, NftFailedError when nft refuses it.
 */
export interface NftPort {
  run(script: string): Promise<void>;
}

/** The nft program could not be started (ENOENT: Debian's nftables package is not installed). */
export class NftNotFoundError extends Error {
  constructor(readonly command: string, detail: string) {
    super(`the nft program (${command}) was not found: ${detail}; install the nftables package`);
    this.name = 'NftNotFoundError';
  }
}

/** nft ran and refused the script (exit status, stderr). */
export class NftFailedError extends Error {
  constructor(readonly code: number | string, readonly stderr: string) {
    super(`nft -f - failed (${code}): ${stderr.trim() || 'no message'}`);
    this.name = 'NftFailedError';
  }
}

/** Removes a table left by an earlier run, if any (`add` then `delete`: no error when absent). */
export function removeTableScript(): string {
  return `add table ${NFT_FAMILY} ${NFT_TABLE}\ndelete table ${NFT_FAMILY} ${NFT_TABLE}\n`;
}

function elements(addresses: readonly IpAddress[]): string {
  return addresses.map((a) => a.text).join(', ');
}

/** The whole table, replacing whatever is there, with `blocked` in its sets: one transaction. */
export function tableScript(blocked: readonly IpAddress[]): string {
  const set = (family: IpAddress['family'], type: string): string => {
    const members = blocked.filter((a) => a.family === family);
    return `\tset ${SET[family]} { type ${type};${members.length > 0 ? ` elements = { ${elements(members)} };` : ''} }\n`;
  };
  return (
    removeTableScript() +
    `table ${NFT_FAMILY} ${NFT_TABLE} {\n` +
    '\tcomment "vigil: VRRP Accept_Mode false (RFC 5798 6.4.3): packets to these virtual addresses are dropped";\n' +
    set('ipv4', 'ipv4_addr') +
    set('ipv6', 'ipv6_addr') +
    '\tchain input {\n' +
    '\t\ttype filter hook input priority filter; policy accept;\n' +
    `\t\tip daddr @${SET.ipv4} counter drop\n` +
    // RFC 5798 §6.1: NS and NA are never dropped (a unicast NS to the VIP is a NUD probe).
    `\t\tip6 daddr @${SET.ipv6} icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } counter accept\n` +
    `\t\tip6 daddr @${SET.ipv6} counter drop\n` +
    '\t}\n' +
    '}\n'
  );
}

/** `add element` / `delete element` for `addresses`, per family; empty when there are none. */
export function elementScript(op: 'add' | 'delete', addresses: readonly IpAddress[]): string {
  let out = '';
  for (const family of ['ipv4', 'ipv6'] as const) {
    const members = addresses.filter((a) => a.family === family);
    if (members.length > 0) out += `${op} element ${NFT_FAMILY} ${NFT_TABLE} ${SET[family]} { ${elements(members)} }\n`;
  }
  return out;
}

/** The real port: `nft -f -` with the script on stdin, in this process's network namespace. */
export class NftProgram implements NftPort {
  constructor(
    private readonly command = 'nft',
    private readonly timeoutMs = 10_000,
  ) {}

  run(script: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const child = spawn(this.command, ['-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
      let stderr = '';
      let settled = false;
      const finish = (error: Error | undefined): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error) reject(error);
        else resolve();
      };
      const timer = setTimeout(() => {
        // Only the child this call started, by its PID.
        if (child.pid !== undefined) child.kill('SIGKILL');
        finish(new NftFailedError('timeout', `no answer within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (d: string) => (stderr += d));
      child.once('error', (e: NodeJS.ErrnoException) => {
        finish(e.code === 'ENOENT' ? new NftNotFoundError(this.command, e.message) : e);
      });
      child.once('close', (code, signal) => {
        finish(code === 0 ? undefined : new NftFailedError(code ?? signal ?? 'unknown', stderr));
      });
      // EPIPE when nft died before reading: reported through 'close'.
      child.stdin.on('error', () => undefined);
      child.stdin.end(script);
    });
  }
}

export interface AcceptFilterStatus {
  /** Whether vigil's table is in place. */
  readonly active: boolean;
  /** The addresses packets to which are dropped now. */
  readonly blocked: readonly string[];
  /** nft runs that failed since start. */
  readonly errors: number;
  readonly lastError?: string;
}

/** Why the filter could not be set up at start. */
export class AcceptFilterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AcceptFilterError';
  }
}

export class AcceptFilter {
  /** Which addresses each owner (an instance) asked to block. */
  private readonly owners = new Map<string, readonly IpAddress[]>();
  /** Blocked addresses by text, with how many owners hold each. */
  private readonly refs = new Map<string, { readonly address: IpAddress; count: number }>();
  private tableUp = false;
  /** A change failed: the next change rewrites the whole table from what we hold. */
  private dirty = false;
  private errors = 0;
  private lastError: string | undefined;
  private queue: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly nft: NftPort,
    private readonly log: Logger,
  ) {}

  /**
   * At start: removes a table an earlier run left behind and, when some instance has
   * accept false (`needing` names them), puts the empty table in place. Throws
   * AcceptFilterError when those instances cannot be served (nft missing or failing);
   * without them, a missing nft is fine (nothing to clean, nothing to do).
   */
  async start(needing: readonly string[]): Promise<void> {
    try {
      await this.nft.run(needing.length > 0 ? tableScript([]) : removeTableScript());
      this.tableUp = needing.length > 0;
      if (this.tableUp) this.log.log('info', 'accept-filter-ready', { table: `${NFT_FAMILY} ${NFT_TABLE}`, instances: needing });
    } catch (e) {
      if (needing.length === 0) {
        if (!(e instanceof NftNotFoundError)) this.fail('clean', e);
        return;
      }
      const what = `instance${needing.length > 1 ? 's' : ''} ${needing.join(', ')}`;
      throw new AcceptFilterError(
        `${what}: accept: false needs an nftables table (${NFT_FAMILY} ${NFT_TABLE}) to drop packets addressed to the virtual addresses: ${errorText(e)}`,
      );
    }
  }

  /** Drops packets addressed to `addresses` from now on (for `owner`, replacing what it had). Never throws. */
  block(owner: string, addresses: readonly IpAddress[]): Promise<void> {
    return this.enqueue(async () => {
      const before = this.owners.get(owner) ?? [];
      this.owners.set(owner, addresses);
      const added = this.retain(addresses);
      this.release(before);
      const removed = this.released.splice(0);
      await this.apply(added, removed, `block ${owner}`);
    });
  }

  /** Stops dropping what `owner` blocked. Never throws. */
  unblock(owner: string): Promise<void> {
    return this.enqueue(async () => {
      const before = this.owners.get(owner);
      if (!before) return;
      this.owners.delete(owner);
      this.release(before);
      await this.apply([], this.released.splice(0), `unblock ${owner}`);
    });
  }

  /** Deletes the table (daemon stop). Never throws. */
  stop(): Promise<void> {
    return this.enqueue(async () => {
      this.stopped = true;
      this.owners.clear();
      this.refs.clear();
      if (!this.tableUp && !this.dirty) return;
      try {
        await this.nft.run(removeTableScript());
        this.tableUp = false;
        this.dirty = false;
        this.log.log('info', 'accept-filter-removed', { table: `${NFT_FAMILY} ${NFT_TABLE}` });
      } catch (e) {
        this.fail('remove table', e);
      }
    });
  }

  status(): AcceptFilterStatus {
    return {
      active: this.tableUp,
      blocked: [...this.refs.values()].map((r) => r.address.text),
      errors: this.errors,
      ...(this.lastError === undefined ? {} : { lastError: this.lastError }),
    };
  }

  /** Waits for the changes asked for so far. */
  settled(): Promise<void> {
    return this.queue;
  }

  private readonly released: IpAddress[] = [];

  /** Counts `addresses` in; returns those that were not blocked before. */
  private retain(addresses: readonly IpAddress[]): IpAddress[] {
    const fresh: IpAddress[] = [];
    for (const address of addresses) {
      const ref = this.refs.get(address.text);
      if (ref) ref.count++;
      else {
        this.refs.set(address.text, { address, count: 1 });
        fresh.push(address);
      }
    }
    return fresh;
  }

  /** Counts `addresses` out; those no owner holds any more go to `released`. */
  private release(addresses: readonly IpAddress[]): void {
    for (const address of addresses) {
      const ref = this.refs.get(address.text);
      if (!ref) continue;
      if (--ref.count === 0) {
        this.refs.delete(address.text);
        this.released.push(address);
      }
    }
  }

  private async apply(added: readonly IpAddress[], removed: readonly IpAddress[], what: string): Promise<void> {
    if (this.stopped) return;
    if (added.length === 0 && removed.length === 0 && this.tableUp && !this.dirty) return;
    const current = [...this.refs.values()].map((r) => r.address);
    // Created lazily (an instance given accept false by a reload), or rewritten after a failure.
    const rebuild = !this.tableUp || this.dirty;
    const script = rebuild ? tableScript(current) : elementScript('delete', removed) + elementScript('add', added);
    try {
      await this.nft.run(script);
      this.tableUp = true;
      this.dirty = false;
      this.log.log('info', 'accept-filter-changed', {
        action: what,
        added: added.map((a) => a.text),
        removed: removed.map((a) => a.text),
        blocked: current.map((a) => a.text),
        rebuilt: rebuild,
      });
    } catch (e) {
      this.dirty = true;
      this.fail(what, e);
    }
  }

  private fail(what: string, e: unknown): void {
    this.errors++;
    this.lastError = errorText(e);
    this.log.log('error', 'accept-filter-failed', { action: what, errors: this.errors, detail: this.lastError });
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    const next = this.queue.then(step, step);
    this.queue = next.catch(() => undefined);
    return this.queue;
  }
}
