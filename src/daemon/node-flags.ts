/**
 * The Node/V8 flags `vigil run` is meant to be started with: the launcher
 * (packaging's /usr/bin/vigil, the unit file) puts them on node's command line, and the
 * lab (src/lab/vigil.ts) starts the daemon with them, so tests and bench/ measure what
 * ships. They cannot be applied from inside the process: V8 sizes its heap when the
 * isolate is created, and setFlagsFromString('--max-semi-space-size=1') or
 * '--semi-space-growth-factor=1' after start were measured to change nothing (committed
 * heap 49.7 MB at 200 instances either way).
 *
 * --max-semi-space-size=1: the young generation stays at 1 MiB semi-spaces instead of
 * growing to 16 MiB each (and keeping them). Measured at 200 instances × 100 ms, master:
 * committed heap 49.7 → 22.2 MB; private memory about 44–50 → 30 MiB. The price: about one
 * scavenge of ~1.3 ms per 550 adverts sent.
 */
export const RUN_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1'];
