/**
 * Packet capture in the lab for the tests: the code lives in src/lab/capture.ts (shared
 * with `vigil demo`); this module keeps the tests' import path.
 */
export * from '../../src/lab/capture.js';
