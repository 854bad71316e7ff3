/**
 * The import graph of src/ and the layer rules it must keep (README "Design", "Layers").
 * Imports are read with TypeScript's own pre-processor (static, re-exports, dynamic
 * import()), so a comment or a string that looks like an import does not count.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

export interface ImportEdge {
  /** The importing file, relative to the tree's root ("src/vrrp/router.ts"). */
  readonly from: string;
  /** A file of the tree ("src/net/address.ts") or a package/builtin ("node:fs", "yaml"). */
  readonly to: string;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...sourceFiles(full));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

/** Every import of every .ts file under `root`/src. */
export function importGraph(root: string): ImportEdge[] {
  const edges: ImportEdge[] = [];
  for (const file of sourceFiles(path.join(root, 'src'))) {
    const from = path.relative(root, file).split(path.sep).join('/');
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    for (const ref of info.importedFiles) {
      const spec = ref.fileName;
      if (spec.startsWith('.')) {
        const target = path.posix.normalize(path.posix.join(path.posix.dirname(from), spec)).replace(/\.js$/, '.ts');
        edges.push({ from, to: target });
      } else edges.push({ from, to: spec });
    }
  }
  return edges;
}

/**
 * The top of the stack: what nothing below may import. src/daemon and src/sim run the
 * protocols; beside the daemon and above it, src/notify (scripts, FIFO, alerts),
 * src/monitor (D-Bus, SNMP, Prometheus: they read the daemon's status and its logger) and
 * src/keepalived (the importer); then src/lab; src/cli on top. src/events is low: the
 * daemon writes the stream, the notifiers read it.
 */
const UPPER = ['src/cli/', 'src/lab/', 'src/notify/', 'src/monitor/', 'src/keepalived/', 'src/daemon/', 'src/sim/'];
/** Who may import which upper folder (a folder may always import itself). */
const MAY_IMPORT_UPPER: Readonly<Record<string, readonly string[]>> = {
  'src/cli/': ['src/lab/', 'src/notify/', 'src/monitor/', 'src/keepalived/', 'src/daemon/', 'src/sim/'],
  'src/lab/': ['src/daemon/', 'src/sim/'],
  'src/notify/': ['src/daemon/'],
  'src/monitor/': ['src/daemon/'],
  'src/keepalived/': [],
  'src/daemon/': [],
  'src/sim/': [],
};

/**
 * The pure cores: events and a clock in, actions out. They import only each other and
 * node:crypto (hashing, for the heartbeat's HMAC); never a socket, a file, a process, the
 * native addon. I/O that belongs to a protocol lives in its io/ folder.
 */
export function isPure(file: string): boolean {
  if (file.startsWith('src/base/')) return true;
  if ((file.startsWith('src/vrrp/') && !file.startsWith('src/vrrp/io/')) || (file.startsWith('src/quorum/') && !file.startsWith('src/quorum/io/'))) return true;
  return ['src/resources/manager.ts', 'src/resources/reconfigure.ts', 'src/resources/types.ts', 'src/health/rise-fall.ts', 'src/net/address.ts', 'src/net/mac.ts', 'src/net/af.ts', 'src/events/types.ts'].includes(file);
}
const PURE_MAY_USE = new Set(['node:crypto']);

/** Each broken rule as one line naming the file, what it imports and the rule. */
export function layerViolations(edges: readonly ImportEdge[]): string[] {
  const out: string[] = [];
  for (const { from, to } of edges) {
    const fromUpper = UPPER.find((u) => from.startsWith(u));
    const toUpper = UPPER.find((u) => to.startsWith(u));
    if (toUpper !== undefined && toUpper !== fromUpper) {
      const allowed = fromUpper !== undefined && (MAY_IMPORT_UPPER[fromUpper] ?? []).includes(toUpper);
      if (!allowed) out.push(`${from} imports ${to}: ${fromUpper ?? 'a layer below the daemon'} may not import ${toUpper}`);
    }
    if (from.startsWith('src/base/') && !to.startsWith('src/base/')) out.push(`${from} imports ${to}: src/base/ imports nothing outside itself`);
    if (from.startsWith('src/os/') && to.startsWith('src/') && !['src/os/', 'src/base/', 'src/net/address.ts'].some((p) => to.startsWith(p))) {
      out.push(`${from} imports ${to}: src/os/ is below the protocols and imports only src/base/ and src/net/address.ts`);
    }
    if (isPure(from)) {
      const ok = to.startsWith('src/') ? isPure(to) : PURE_MAY_USE.has(to);
      if (!ok) out.push(`${from} imports ${to}: a pure core imports only pure modules${to.startsWith('src/') ? '' : ' (no node: I/O, no packages)'}`);
    }
  }
  return out;
}
