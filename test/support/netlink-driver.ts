/**
 * Runs src/netlink operations in the network namespace it is started in (the tests start
 * it with `ip netns exec`), for test/netlink.test.ts.
 *
 *   node netlink-driver.js '{"op":"add","ifindex":2,"address":"10.213.0.100","prefixLength":24}' …
 *
 * Each argument is one operation; each prints one JSON line:
 *   {"ok":true,"result":…}  or  {"ok":false,"error":{"name","code","errno","operation","object","message"}}
 * Operations run in order on one Netlink instance.
 *
 * {"op":"add-in-turn",…} adds an address and tells whether the result was there before the
 * event loop turned ({"inTurn":"ok"|errno code|null,"settled":…}).
 *
 * {"op":"send-raw","port":N,"hex":"…"} sends a forged netlink message from a user-space
 * socket to port N (to check that only the kernel is listened to).
 *
 * {"op":"watch","receiveBuffer"?:N} instead streams every watcher event as a JSON line,
 * after a line {"ready":true}, until stdin ends or receives a line.
 */
import { ip } from '../../src/net/address.js';
import { SOCK_RAW, native } from '../../src/native/index.js';
import { sockaddrNl } from '../../src/net/sockaddr.js';
import { parseMac } from '../../src/net/mac.js';
import {
  Netlink,
  NetlinkError,
  applySysctls,
  readSysctl,
  restoreSysctls,
  vmacSysctls,
  writeSysctl,
  type AddressSpec,
  type AppliedSysctl,
} from '../../src/netlink/index.js';
import { AF_NETLINK } from '../../src/net/af.js';
import { errorStackText } from '../../src/base/error-text.js';
import { NETLINK_ROUTE, type ScopeName } from '../../src/netlink/constants.js';

type Op = Record<string, unknown> & { op: string };

function str(op: Op, key: string): string {
  const v = op[key];
  if (typeof v !== 'string') throw new TypeError(`${op.op}: ${key} must be a string`);
  return v;
}

function num(op: Op, key: string): number {
  const v = op[key];
  if (typeof v !== 'number') throw new TypeError(`${op.op}: ${key} must be a number`);
  return v;
}

function addressSpec(op: Op): AddressSpec {
  const scope = op['scope'];
  return {
    ifindex: num(op, 'ifindex'),
    address: ip(str(op, 'address')),
    prefixLength: num(op, 'prefixLength'),
    ...(typeof op['label'] === 'string' ? { label: op['label'] } : {}),
    ...(typeof scope === 'string' || typeof scope === 'number' ? { scope: scope as ScopeName | number } : {}),
    ...(op['noDad'] === true ? { noDad: true } : {}),
  };
}

/** JSON with addresses and MACs as their text, and errors as their fields. */
function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'object' && v !== null && 'bytes' in v && 'text' in v && (v as { bytes: unknown }).bytes instanceof Uint8Array) {
      return (v as { text: unknown }).text;
    }
    if (v instanceof Error) {
      const e = v as Error & Partial<NetlinkError>;
      return { name: e.name, code: e.code, errno: e.errno, operation: e.operation, object: e.object, message: e.message };
    }
    return v;
  });
}

async function run(nl: Netlink, op: Op): Promise<unknown> {
  switch (op.op) {
    case 'links':
      return nl.listLinks();
    case 'link':
      return (await nl.getLink(str(op, 'name'))) ?? null;
    case 'addrs':
      return nl.listAddresses(typeof op['ifindex'] === 'number' ? op['ifindex'] : undefined);
    case 'add':
      return nl.addAddress(addressSpec(op));
    case 'add-in-turn': {
      // Whether the add settles in the turn of the loop that sent it (microtasks only, no
      // poll phase in between): rtnetlink queues the ack inside sendmsg.
      let settled: string | undefined;
      const done = nl.addAddress(addressSpec(op)).then(
        () => void (settled = 'ok'),
        (e: unknown) => void (settled = e instanceof NetlinkError ? e.code : String(e)),
      );
      for (let i = 0; i < 100 && settled === undefined; i++) await Promise.resolve();
      const inTurn = settled ?? null;
      await done;
      return { inTurn, settled };
    }
    case 'remove':
      return nl.removeAddress(addressSpec(op));
    case 'macvlan': {
      const mac = parseMac(str(op, 'mac'));
      if (mac instanceof Error) throw mac;
      const mode = str(op, 'mode');
      if (mode !== 'private' && mode !== 'vepa' && mode !== 'bridge' && mode !== 'passthru') throw new TypeError(`bad mode ${mode}`);
      return nl.createMacvlan({ name: str(op, 'name'), parentIndex: num(op, 'parentIndex'), mac, mode });
    }
    case 'dellink':
      return nl.deleteLink(num(op, 'index'), typeof op['expectKind'] === 'string' ? { expectKind: op['expectKind'] } : {});
    case 'setup':
      await nl.setLinkUp(num(op, 'index'), op['up'] === true);
      return null;
    case 'sysctl-read':
      return readSysctl(str(op, 'key'));
    case 'sysctl-write':
      return writeSysctl(str(op, 'key'), str(op, 'value'));
    case 'vmac-sysctls':
      return applySysctls(vmacSysctls(str(op, 'parent'), str(op, 'vmac')));
    case 'restore-sysctls':
      await restoreSysctls(op['applied'] as AppliedSysctl[]);
      return null;
    case 'send-raw': {
      // A forged message from a user-space port (not the kernel) to `port`.
      const n = native();
      const fd = n.socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
      try {
        n.bind(fd, sockaddrNl(0, 0));
        return n.sendto(fd, Buffer.from(str(op, 'hex'), 'hex'), sockaddrNl(num(op, 'port'), 0));
      } finally {
        n.close(fd);
      }
    }
    default:
      throw new TypeError(`unknown op ${op.op}`);
  }
}

async function watch(nl: Netlink): Promise<void> {
  const watcher = await nl.watch();
  watcher.on((event) => process.stdout.write(`${toJson(event)}\n`));
  process.stdout.write(`${toJson({ ready: true, links: watcher.links().length })}\n`);
  await new Promise<void>((resolve) => {
    process.stdin.once('data', () => resolve());
    process.stdin.once('end', () => resolve());
  });
  process.stdin.pause();
}

async function main(): Promise<void> {
  const ops = process.argv.slice(2).map((a) => JSON.parse(a) as Op);
  const watchOp = ops.find((o) => o.op === 'watch');
  const receiveBuffer = watchOp?.['receiveBuffer'];
  const nl = Netlink.open(typeof receiveBuffer === 'number' ? { eventReceiveBuffer: receiveBuffer } : {});
  try {
    for (const op of ops) {
      if (op.op === 'watch') {
        await watch(nl);
        continue;
      }
      try {
        process.stdout.write(`${toJson({ ok: true, result: await run(nl, op) })}\n`);
      } catch (error) {
        process.stdout.write(`${toJson({ ok: false, error })}\n`);
      }
    }
  } finally {
    nl.close();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${errorStackText(e)}\n`);
  process.exitCode = 1;
});
