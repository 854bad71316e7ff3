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

export class Capture {
  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    readonly file: string,
  ) {}

  /** Starts tcpdump on `iface` in `host`'s namespace; `filter` is a pcap filter. */
  static async start(lab: Lab, host: string, filter = 'vrrp or arp or icmp6', iface = 'eth0'): Promise<Capture> {
    const dir = mkdtempSync(path.join(tmpdir(), 'vigil-cap-'));
    const file = path.join(dir, `${host}.pcap`);
    const child = lab.spawn(host, 'tcpdump', ['-i', iface, '-U', '--immediate-mode', '-n', '--time-stamp-precision=nano', '-s', '256', '-w', file, filter]);
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => (stderr += d));
    // tcpdump says "listening on" once the socket is open.
    for (let i = 0; i < 200; i++) {
      if (stderr.includes('listening on')) return new Capture(child, dir, file);
      if (child.exitCode !== null) break;
      await sleep(10);
    }
    throw new Error(`tcpdump did not start in ${host}: ${stderr.trim()}`);
  }

  /** Frames captured so far (tcpdump -U flushes each packet). */
  frames(): Frame[] {
    if (!existsSync(this.file) || statSync(this.file).size < 24) return [];
    return parsePcap(readFileSync(this.file));
  }

  async stop(): Promise<Frame[]> {
    if (this.child.exitCode === null && this.child.pid !== undefined) {
      const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      process.kill(this.child.pid, 'SIGINT');
      await Promise.race([exited, sleep(3000)]);
    }
    const frames = this.frames();
    rmSync(this.dir, { recursive: true, force: true });
    return frames;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
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
