/**
 * The Node/V8 flags and the environment `vigil run` is meant to be started with: the
 * launcher (packaging's /usr/bin/vigil, which the unit file runs) puts them on node's
 * command line and in its environment, and the lab (src/lab/vigil.ts) starts the daemon
 * with them, so tests and bench/ measure what ships. They cannot be applied from inside
 * the process: V8 sizes its heap when the isolate is created, and setFlagsFromString(
 * '--max-semi-space-size=1') or '--semi-space-growth-factor=1' after start were measured
 * to change nothing (committed heap 49.7 MB at 200 instances either way); glibc reads
 * MALLOC_ARENA_MAX once, before main(), and a thread keeps the arena it first used.
 *
 * Private memory (smaps Anonymous) is measured with bench/memory.ts and the figures are in
 * README ("Tests and benchmarks").
 */
import { setFlagsFromString } from 'node:v8';

/**
 * --max-semi-space-size=1: the young generation stays at 1 MiB semi-spaces instead of
 * growing to 16 MiB each (and keeping them). Measured at 200 instances × 100 ms, master:
 * committed heap 49.7 → 22.2 MB; private memory about 44–50 → 30 MiB. The price: about one
 * scavenge of ~1.3 ms per 550 adverts sent.
 *
 * --optimize-for-size: V8 favours memory over speed; what it changes here is how far the
 * old generation may grow before the next full GC (V8's heap controller grows the limit by
 * a smaller factor and step when it optimizes for memory). A master at 200 instances × 100 ms promotes
 * about 1 MiB a minute of short-lived objects, so its private memory is a saw-tooth
 * between full GCs. Measured side by side over 10 minutes (with the malloc trim, before MALLOC_ARENA_MAX):
 * 24.7–32.5 → 20.6–29.2 MiB; in three alternating 30 s pairs 27.3–27.9 → 23.0–25.9 MiB,
 * with the master's CPU within the noise (median 11.8 → 11.6 % of a core) and the 10 ms
 * takeover unchanged (README).
 */
export const RUN_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1', '--optimize-for-size'];

/**
 * MALLOC_ARENA_MAX=1: one malloc arena for every thread. glibc otherwise gives each
 * thread that mallocs (V8's four platform workers, libuv's pool, the config loader's
 * worker) an arena of its own, and each keeps its free pages. Measured at 1 instance,
 * 100 ms adverts, with the trim after start (src/cli/run.ts): malloc's pages 6.7–7.1 →
 * 4.7 MiB; at 200 instances 8.5 → 7.0 MiB. Only vigil's own malloc needs it: `vigil run`
 * takes it out of its environment again (dropRunEnvironment), so the resources and
 * scripts it starts (haproxy, nginx, agents) get the environment vigil was given.
 */
export const RUN_ENVIRONMENT: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '1' };

/** Removes from `env` the variables RUN_ENVIRONMENT put there (same name and value); the rest stays. */
export function dropRunEnvironment(env: Record<string, string | undefined>): void {
  for (const [name, value] of Object.entries(RUN_ENVIRONMENT)) {
    if (env[name] === value) delete env[name];
  }
}

/**
 * Imports what `load` imports with its code compiled when it loads, not on first use: a
 * backup's first takeover would otherwise compile the takeover path (router, instance,
 * netlink, frames) while the segment waits — measured +1.4 ms at 10 ms adverts. `vigil
 * run`'s module (src/cli/main.ts) and the services it loads only when the config has them
 * (the quorum providers, the resource manager and health checks: src/cli/run.ts) come
 * through here; what loads otherwise (the config loader's worker and its schema validator)
 * compiles lazily again: 17.6 → 15.5 MiB private at 1 instance, where eager throughout
 * cost about 4 MiB over lazy.
 */
export async function importEagerly<T>(load: () => Promise<T>): Promise<T> {
  setFlagsFromString('--no-lazy');
  try {
    return await load();
  } finally {
    setFlagsFromString('--lazy');
  }
}
