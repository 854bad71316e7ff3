/**
 * The daemon's config loader: the same loadConfig (load.ts), run in a worker thread that
 * ends when it has answered. The YAML parser, the schema validator and its compiled
 * schema live and die with the worker, so the long-running daemon does not carry them
 * (about 25 MB of resident memory when loaded in the main thread; see bench/resources.ts).
 */
import { Worker } from 'node:worker_threads';
import type { ParseResult } from './issues.js';
import { errorText } from '../base/error-text.js';

const WORKER = new URL('./load-worker.js', import.meta.url);

/** One promise per loader worker that has not exited yet. */
const running = new Set<Promise<void>>();

/**
 * Resolves once every config loader started so far has exited: its thread is gone and
 * its isolate's memory has gone back to malloc (the daemon then trims malloc's arenas).
 */
export function configLoadersExited(): Promise<void> {
  return Promise.all([...running]).then(() => undefined);
}

export function loadConfigIsolated(file: string): Promise<ParseResult> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (result: ParseResult): void => {
      if (settled) return;
      settled = true;
      resolve(result);
    };
    const failure = (message: string): ParseResult => ({ ok: false, errors: [{ file, line: 0, column: 0, path: '', message }] });
    const worker = new Worker(WORKER, { workerData: { file }, resourceLimits: { maxOldGenerationSizeMb: 64 } });
    const exited = new Promise<void>((done) => worker.once('exit', () => done()));
    running.add(exited);
    void exited.then(() => running.delete(exited));
    worker.once('message', (result: ParseResult) => {
      settle(result);
      void worker.terminate();
    });
    worker.once('error', (e) => settle(failure(`the config loader failed: ${errorText(e)}`)));
    worker.once('exit', (code) => settle(failure(`the config loader exited (${code}) without an answer`)));
  });
}
