/**
 * VRRP core throughput on one core: codec encode+decode per second and state-machine
 * events per second. Each figure is the median of several runs (machines are shared).
 * Feeds the later target: hundreds of instances at 10 ms intervals on one core, i.e.
 * 100 adverts/s per instance sent by a master and received by each backup.
 */
import { ip } from '../src/net/address.js';
import { decodeAdvert, encodeAdvertInto, type AdvertV3 } from '../src/vrrp/codec.js';
import { DEFAULT_ANNOUNCE, VirtualRouter, type RouterConfig } from '../src/vrrp/router.js';
import { toPriority, toV3Interval, toVrid } from '../src/vrrp/types.js';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 7);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

function rate(label: string, iterations: number, body: (n: number) => void): number {
  body(Math.min(iterations, 10_000)); // warm up the JIT
  const rates: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const start = process.hrtime.bigint();
    body(iterations);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    rates.push(iterations / seconds);
  }
  const m = median(rates);
  console.log(`${label.padEnd(52)} ${Math.round(m).toLocaleString('en-US').padStart(12)} /s  (median of ${RUNS}; min ${Math.round(Math.min(...rates)).toLocaleString('en-US')}, max ${Math.round(Math.max(...rates)).toLocaleString('en-US')})`);
  return m;
}

const src = ip('10.213.0.1');
const dst = ip('224.0.0.18');
const advert: AdvertV3 = {
  version: 3,
  family: 'ipv4',
  vrid: toVrid(51),
  priority: toPriority(150),
  maxAdverInt: toV3Interval(1),
  reserved: 0,
  addresses: [ip('10.213.0.100'), ip('10.213.0.101')],
};
const buffer = new Uint8Array(64);
const meta = { src, dst, ttl: 255 };

export function runCoreBench(): void {
  console.log(`vigil VRRP core benchmark — node ${process.version}, one core, ${RUNS} runs each`);
  const encodeDecode = rate('codec: encode + decode (v3 IPv4, 2 VIPs)', 300_000, (n) => {
    for (let i = 0; i < n; i++) {
      const len = encodeAdvertInto(buffer, advert, { src, dst });
      const r = decodeAdvert(buffer.subarray(0, len), meta);
      if (!r.ok) throw new Error(r.detail);
    }
  });
  const decodeOnly = rate('codec: decode only', 300_000, (n) => {
    const len = encodeAdvertInto(buffer, advert, { src, dst });
    const packet = buffer.subarray(0, len);
    for (let i = 0; i < n; i++) if (!decodeAdvert(packet, meta).ok) throw new Error('decode');
  });

  const config: RouterConfig = {
    name: 'bench',
    version: 3,
    family: 'ipv4',
    vrid: toVrid(51),
    priority: toPriority(100),
    advertInterval: toV3Interval(1),
    preempt: true,
    preemptDelayMs: 0,
    acceptMode: false,
    primaryAddress: ip('10.213.0.2'),
    tracked: [],
    announce: DEFAULT_ANNOUNCE,
    higherPrioritySendAdvert: true,
    lowerPriorityNoAdvert: false,
  };
  const backupEvents = rate('state machine: backup receiving adverts', 1_000_000, (n) => {
    const router = new VirtualRouter(config);
    router.handle({ type: 'startup' }, 0);
    const event = { type: 'advert' as const, advert, src };
    for (let i = 0; i < n; i++) router.handle(event, i * 10);
  });
  const masterTicks = rate('state machine: master advert timer ticks', 1_000_000, (n) => {
    const router = new VirtualRouter({ ...config, priority: toPriority(255) });
    router.handle({ type: 'startup' }, 0);
    const tick = { type: 'tick' as const };
    let now = 0;
    for (let i = 0; i < n; i++) {
      now = router.nextDeadline() ?? now + 10;
      router.handle(tick, now);
    }
  });
  // 200 instances at 10 ms: a master sends 100 adverts/s each (encode + tick), a backup
  // receives 100/s each (decode + event).
  const perAdvertSentUs = 1e6 / encodeDecode / 2 + 1e6 / masterTicks;
  const perAdvertReceivedUs = 1e6 / decodeOnly + 1e6 / backupEvents;
  console.log(
    `core CPU per advert: sent ≈ ${perAdvertSentUs.toFixed(2)} µs, received ≈ ${perAdvertReceivedUs.toFixed(2)} µs ` +
      `(200 instances at 10 ms: ${((200 * 100 * perAdvertSentUs) / 1e4).toFixed(2)} % of a core as master, ` +
      `${((200 * 100 * perAdvertReceivedUs) / 1e4).toFixed(2)} % as backup, before any socket I/O)`,
  );
}
