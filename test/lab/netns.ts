/**
 * The lab for the tests: the code lives in src/lab/netns.ts (the namespace demo, `vigil
 * demo`, builds its lab with it too); this module keeps the tests' import path.
 */
export * from '../../src/lab/netns.js';
