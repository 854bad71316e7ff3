#!/usr/bin/env node
// Builds the N-API addon (binding.gyp -> build/Release/vigil_native.node) with node-gyp.
//
// Run by `npm ci` / `npm install` (the package's "install" script) and by
// `npm run build:native`. node-gyp normally downloads Node's headers; machines without
// that download build against installed headers instead, so this script finds them:
//   1. npm_config_nodedir, when configured (npm passes its `nodedir` setting this way),
//      must hold include/node/node_api.h;
//   2. otherwise the prefix of the running node (e.g. /usr for Debian's nodejs, which
//      ships /usr/include/node), then /usr, when include/node/node_api.h is there;
//   3. otherwise headers node-gyp downloaded before (its cache);
//   4. otherwise it stops with a message saying what to install or set.
// node-gyp itself: the project's devDependency if present, else the one npm bundles.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const env = { ...process.env };

function fail(message) {
  console.error(`vigil: cannot build the native addon (build/Release/vigil_native.node): ${message}`);
  process.exit(1);
}

const hasHeaders = (dir) => existsSync(path.join(dir, 'include', 'node', 'node_api.h'));

function chooseNodedir() {
  const configured = env.npm_config_nodedir;
  if (configured) {
    if (!hasHeaders(configured)) {
      fail(`nodedir is set to "${configured}" but ${path.join(configured, 'include/node/node_api.h')} does not exist`);
    }
    return `configured nodedir ${configured}`;
  }
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  for (const dir of [prefix, '/usr']) {
    if (hasHeaders(dir)) {
      env.npm_config_nodedir = dir;
      return `installed headers in ${dir}`;
    }
  }
  const cacheRoot = env.npm_config_devdir || path.join(env.XDG_CACHE_HOME || path.join(homedir(), '.cache'), 'node-gyp');
  const cached = path.join(cacheRoot, process.versions.node);
  if (hasHeaders(cached)) return `node-gyp's cached headers in ${cached}`;
  fail(
    `no Node.js headers found for node ${process.version} (looked for include/node/node_api.h in ${prefix}, /usr ` +
      `and ${cached}). Install them (on Debian they come with the nodejs package in /usr/include/node) or set ` +
      `npm_config_nodedir to a directory holding include/node/node_api.h.`,
  );
  return '';
}

function findNodeGyp() {
  const candidates = [
    path.join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    env.npm_config_node_gyp,
    path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  const found = candidates.find((c) => c && existsSync(c));
  if (!found) fail(`node-gyp not found (tried ${candidates.filter(Boolean).join(', ')}); install npm or add node-gyp as a devDependency`);
  return found;
}

try {
  createRequire(path.join(root, 'package.json')).resolve('node-addon-api');
} catch {
  fail('the node-addon-api package is missing: run npm install first');
}

const headers = chooseNodedir();
const nodeGyp = findNodeGyp();
console.error(`vigil: building the native addon with ${nodeGyp} against ${headers}`);
const result = spawnSync(process.execPath, [nodeGyp, 'rebuild'], { cwd: root, env, stdio: 'inherit' });
if (result.error) fail(result.error.message);
if (result.status !== 0) fail(`node-gyp exited with status ${result.status ?? result.signal}`);
