/**
 * Packet capture in the lab: tcpdump writes a pcap inside a host's namespace; the file is
 * parsed here (libpcap format, nanosecond timestamps) into frames with their time, and
 * VRRP adverts, ARP and neighbour advertisements are picked out of them.
 */
import { mkdtempSync, readFileSync, rmSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { Lab } from './netns.js';
import { until } from './wait.js';
import { addressFromBytes, type IpAddress } from '../net/address.js';
import { formatMac } from '../net/mac.js';

export interface Frame {
  /** Capture time in ms (CLOCK_REALTIME of the capture, nanosecond precision). */
  readonly timeMs: number;
  readonly bytes: Buffer;
}

const PCAP_MAGIC_US = 0xa1b2c3d4;
const PCAP_MAGIC_NS = 0xa1b23c4d;

/** Parses a classic pcap file (either byte order, µs or ns timestamps). */
export function parsePcap(data: Buffer): Frame[] {
  if (data.length < 24) return [];
  let le = true;
  let magic = data.readUInt32LE(0);
  if (magic !== PCAP_MAGIC_US && magic !== PCAP_MAGIC_NS) {
    magic = data.readUInt32BE(0);
    le = false;
  }
  if (magic !== PCAP_MAGIC_US && magic !== PCAP_MAGIC_NS) throw new Error('not a pcap file');
  const nano = magic === PCAP_MAGIC_NS;
  const u32 = (o: number): number => (le ? data.readUInt32LE(o) : data.readUInt32BE(o));
  const frames: Frame[] = [];
  let offset = 24;
  while (offset + 16 <= data.length) {
    const sec = u32(offset);
    const frac = u32(offset + 4);
    const included = u32(offset + 8);
    offset += 16;
    if (offset + included > data.length) break;
    frames.push({ timeMs: sec * 1000 + (nano ? frac / 1e6 : frac / 1e3), bytes: data.subarray(offset, offset + included) });
    offset += included;
  }
  return frames;
}

export interface CaptureOptions {
  /** eth0 when not given. */
  readonly iface?: string;
  /** Bytes kept per packet (tcpdump -s); 256. */
  readonly snaplen?: number;
  /** The kernel's capture buffer in KiB (tcpdump -B), for long captures at high rates. */
  readonly bufferKiB?: number;
}

export class Capture {
  private stderr = '';
  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    readonly file: string,
  ) {
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => (this.stderr += d));
  }

  /** Starts tcpdump in `host`'s namespace; `filter` is a pcap filter. Resolves once it listens. */
  static async start(lab: Lab, host: string, filter = 'vrrp or arp or icmp6', options: CaptureOptions = {}): Promise<Capture> {
    const dir = mkdtempSync(path.join(tmpdir(), 'vigil-cap-'));
    const file = path.join(dir, `${host}.pcap`);
    const buffer = options.bufferKiB === undefined ? [] : ['-B', String(options.bufferKiB)];
    const child = lab.spawn(host, 'tcpdump', ['-i', options.iface ?? 'eth0', '-U', '--immediate-mode', '-n', ...buffer, '--time-stamp-precision=nano', '-s', String(options.snaplen ?? 256), '-w', file, filter]);
    const cap = new Capture(child, dir, file);
    // tcpdump says "listening on" once the socket is open.
    try {
      await until(() => cap.stderr.includes('listening on') || cap.exited, () => `tcpdump to listen in ${host}`, 5000, 10);
    } catch (e) {
      await cap.stop();
      throw e;
    }
    if (cap.exited) {
      await cap.stop();
      throw new Error(`tcpdump did not start in ${host}: ${cap.stderr.trim()}`);
    }
    return cap;
  }

  private get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** Frames captured so far (tcpdump -U flushes each packet). */
  frames(): Frame[] {
    if (!existsSync(this.file) || statSync(this.file).size < 24) return [];
    return parsePcap(readFileSync(this.file));
  }

  /** Packets the kernel dropped, as tcpdump counts them when it stops (0 before). */
  get dropped(): number {
    const m = /(\d+) packets? dropped by kernel/.exec(this.stderr);
    return m ? Number(m[1]) : 0;
  }

  /** Stops tcpdump (SIGINT, SIGKILL after 3 s), returns the frames and removes the file. */
  async stop(): Promise<Frame[]> {
    if (!this.exited && this.child.pid !== undefined) {
      process.kill(this.child.pid, 'SIGINT');
      await until(() => this.exited, () => 'tcpdump to exit', 3000, 10).catch(() => {
        if (this.child.pid !== undefined && !this.exited) process.kill(this.child.pid, 'SIGKILL');
      });
    }
    const frames = this.frames();
    rmSync(this.dir, { recursive: true, force: true });
    return frames;
  }
}

export interface CapturedAdvert {
  readonly timeMs: number;
  readonly srcMac: string;
  readonly src: IpAddress;
  readonly dst: IpAddress;
  readonly ttl: number;
  /** The VRRP message (IP payload). */
  readonly payload: Buffer;
  readonly vrid: number;
  readonly priority: number;
  readonly version: number;
}

/** VRRP adverts (IP protocol 112) among the frames, IPv4 and IPv6. */
export function vrrpAdverts(frames: readonly Frame[]): CapturedAdvert[] {
  const out: CapturedAdvert[] = [];
  for (const f of frames) {
    const b = f.bytes;
    if (b.length < 14) continue;
    const ethertype = b.readUInt16BE(12);
    const srcMac = formatMac(b, 6);
    if (ethertype === 0x0800 && b.length >= 34) {
      const ihl = ((b[14] as number) & 0x0f) * 4;
      if (b[23] !== 112) continue;
      const total = b.readUInt16BE(16);
      const payload = b.subarray(14 + ihl, 14 + total);
      out.push({
        timeMs: f.timeMs,
        srcMac,
        src: addressFromBytes('ipv4', b, 26),
        dst: addressFromBytes('ipv4', b, 30),
        ttl: b[22] as number,
        payload,
        vrid: payload[1] ?? 0,
        priority: payload[2] ?? 0,
        version: (payload[0] ?? 0) >> 4,
      });
    } else if (ethertype === 0x86dd && b.length >= 54) {
      if (b[20] !== 112) continue;
      const length = b.readUInt16BE(18);
      const payload = b.subarray(54, 54 + length);
      out.push({
        timeMs: f.timeMs,
        srcMac,
        src: addressFromBytes('ipv6', b, 22),
        dst: addressFromBytes('ipv6', b, 38),
        ttl: b[21] as number,
        payload,
        vrid: payload[1] ?? 0,
        priority: payload[2] ?? 0,
        version: (payload[0] ?? 0) >> 4,
      });
    }
  }
  return out;
}

/** Gratuitous ARP frames (sender IP == target IP) with their time. */
export function gratuitousArps(frames: readonly Frame[]): { timeMs: number; ip: string; senderMac: string; ethSrc: string }[] {
  const out: { timeMs: number; ip: string; senderMac: string; ethSrc: string }[] = [];
  for (const f of frames) {
    const b = f.bytes;
    if (b.length < 42 || b.readUInt16BE(12) !== 0x0806) continue;
    const sender = addressFromBytes('ipv4', b, 28).text;
    const target = addressFromBytes('ipv4', b, 38).text;
    if (sender !== target) continue;
    out.push({ timeMs: f.timeMs, ip: sender, senderMac: formatMac(b, 22), ethSrc: formatMac(b, 6) });
  }
  return out;
}

/** Unsolicited neighbour advertisements (ICMPv6 type 136 to ff02::1). */
export function neighborAdverts(frames: readonly Frame[]): { timeMs: number; target: string; ethSrc: string }[] {
  const out: { timeMs: number; target: string; ethSrc: string }[] = [];
  for (const f of frames) {
    const b = f.bytes;
    if (b.length < 78 || b.readUInt16BE(12) !== 0x86dd || b[20] !== 58 || b[54] !== 136) continue;
    out.push({ timeMs: f.timeMs, target: addressFromBytes('ipv6', b, 62).text, ethSrc: formatMac(b, 6) });
  }
  return out;
}

export interface CapturedEcho {
  readonly timeMs: number;
  /** 'request' (type 8) or 'reply' (type 0). */
  readonly kind: 'request' | 'reply';
  readonly src: string;
  readonly dst: string;
  readonly ethSrc: string;
  readonly id: number;
  readonly seq: number;
}

/** ICMP (IPv4) echo requests and replies among the frames, e.g. a client pinging a VIP. */
export function icmpEchoes(frames: readonly Frame[]): CapturedEcho[] {
  const out: CapturedEcho[] = [];
  for (const f of frames) {
    const b = f.bytes;
    if (b.length < 34 || b.readUInt16BE(12) !== 0x0800 || b[23] !== 1) continue;
    const at = 14 + ((b[14] as number) & 0x0f) * 4;
    if (b.length < at + 8) continue;
    const type = b[at];
    if (type !== 0 && type !== 8) continue;
    out.push({
      timeMs: f.timeMs,
      kind: type === 8 ? 'request' : 'reply',
      src: addressFromBytes('ipv4', b, 26).text,
      dst: addressFromBytes('ipv4', b, 30).text,
      ethSrc: formatMac(b, 6),
      id: b.readUInt16BE(at + 4),
      seq: b.readUInt16BE(at + 6),
    });
  }
  return out;
}
