/**
 * Runs in a worker thread started by load-isolated.ts: loads one config file and posts
 * the ParseResult (plain data: addresses are { family, bytes, text } objects) back.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadConfig } from './load.js';

const file = (workerData as { file: string }).file;
parentPort?.postMessage(await loadConfig(file));
