#!/usr/bin/env -S MALLOC_ARENA_MAX=1 node --max-semi-space-size=1 --optimize-for-size
/**
 * The `vigil` command line: `vigil <command> [subcommand] [options]`.
 *
 * Each command is one module exporting a `CliCommand`, listed in COMMANDS below and
 * imported only when it runs (the daemon does not carry the demo's or the packet
 * tool's code, nor they the daemon's: about 17 MB of RSS when all were loaded). A
 * command gets its arguments (everything after its name) and a `CliIo`, and resolves to
 * the exit code; it never touches process.stdout / process.exit itself, so tests can run
 * it in-process with a fake CliIo. Exit codes: 0 success, 1 "the answer is no" (e.g. a
 * rejected packet), 2 bad usage, 70 an unexpected internal error.
 *
 * Commands import only types from this module (`import type`), so there is no runtime
 * import cycle.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { errorStackText, errorText } from '../base/error-text.js';
import type { WritableLike } from '../daemon/log-sink.js';
import { importEagerly } from '../daemon/node-flags.js';

/** Where a command writes and reads. */
export interface CliIo {
  /** Writes text as is (add the newline yourself). */
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** The stream behind `stdout`, for the daemon's bounded log writer (absent: `stdout` is used as is). */
  readonly stdoutStream?: WritableLike;
  /** Reads standard input to its end, as UTF-8. */
  readonly readStdin: () => Promise<string>;
}

export interface CliCommand {
  /** The word after `vigil`. */
  readonly name: string;
  /** One line for `vigil help`. */
  readonly summary: string;
  /** `argv` is everything after the command name. Resolves to the exit code. */
  run(argv: string[], io: CliIo): Promise<number>;
}

export const EXIT_OK = 0;
export const EXIT_NO = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERNAL = 70;

/**
 * vigil's version: the `version` of the package.json at the package root (three levels
 * above this file in a checkout's dist/src/cli and in /usr/lib/vigil/dist/src/cli alike),
 * the one place versions come from; the deb and rpm take theirs from the same file.
 */
export function vigilVersion(): string {
  const file = new URL('../../../package.json', import.meta.url);
  let version: unknown;
  try {
    version = (JSON.parse(readFileSync(file, 'utf8')) as { version?: unknown }).version;
  } catch (e) {
    throw new Error(`vigil --version: cannot read ${fileURLToPath(file)}: ${errorText(e)}`);
  }
  if (typeof version !== 'string') throw new Error(`vigil --version: ${fileURLToPath(file)} has no "version" string`);
  return version;
}

/** A command whose module is imported when it runs. */
function lazy(name: string, summary: string, load: () => Promise<CliCommand>): CliCommand {
  return { name, summary, run: async (argv, io) => (await load()).run(argv, io) };
}

/** The registry: add a command by listing its module here. */
export const COMMANDS: readonly CliCommand[] = [
  lazy('run', 'Run the daemon in the foreground (SIGHUP reloads, SIGTERM stops)', async () => {
    // Heap sizing flags cannot be set from here (V8 sizes its heap at start): see
    // RUN_NODE_FLAGS in src/daemon/node-flags.ts, which the launcher passes.
    // Compiled when it loads (the takeover path): importEagerly in src/daemon/node-flags.ts.
    const command = (await importEagerly(() => import('./run.js'))).daemonRunCommand;
    return command;
  }),
  lazy('status', "Show the running daemon's instances and counters", async () => (await import('./status.js')).statusCommand),
  lazy('events', "Print the running daemon's events; --follow to watch them happen", async () => (await import('./events.js')).eventsCommand),
  lazy('quorum', "Show the running daemon's quorum; unblock wait_for_all; set expected votes", async () => (await import('./quorum.js')).quorumCommand),
  lazy('resource', 'Show resources as crm_mon does; start, stop, restart or clean up one', async () => (await import('./resource.js')).resourceCommand),
  lazy('node', 'Put this node in standby (everything moves off) or back online', async () => (await import('./resource.js')).nodeCommand),
  lazy('maintenance', 'Leave every resource as it is (on), or manage them again (off)', async () => (await import('./resource.js')).maintenanceCommand),
  lazy('instance', "Set an instance's role as Pacemaker's agent does: free, stopped, unpromoted, promoted", async () => (await import('./instance.js')).instanceCommand),
  lazy('keygen', 'Write a new shared key for the quorum heartbeats', async () => (await import('./keygen.js')).keygenCommand),
  lazy('check-config', 'Check a configuration file and summarize it', async () => (await import('./check-config.js')).checkConfigCommand),
  lazy('import-keepalived', 'Convert a keepalived.conf to a vigil.yaml', async () => (await import('./import-keepalived.js')).importKeepalivedCommand),
  lazy('packet', 'Decode a VRRP advert from hex to JSON, or encode JSON to hex', async () => (await import('./packet.js')).packetCommand),
  lazy('demo', 'Run a three-node failover demo in network namespaces and print the timeline', async () => (await import('./demo.js')).demoCommand),
];

export function usage(commands: readonly CliCommand[] = COMMANDS): string {
  const width = Math.max(4, ...commands.map((c) => c.name.length));
  const lines = [
    'Usage: vigil <command> [subcommand] [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    `  ${'help'.padEnd(width)}  Show this list, or \`vigil help <command>\` for one command`,
    '',
    '`vigil --version` prints the version.',
    'Run `vigil <command> --help` for the options of a command.',
  ];
  return `${lines.join('\n')}\n`;
}

/** Runs `vigil` with `argv` (the arguments after the program name) and resolves to the exit code. */
export async function runCli(argv: readonly string[], io: CliIo, commands: readonly CliCommand[] = COMMANDS): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.stderr(`vigil: no command given\n\n${usage(commands)}`);
    return EXIT_USAGE;
  }
  if (name === '--help' || name === '-h') {
    io.stdout(usage(commands));
    return EXIT_OK;
  }
  if (name === '--version' || name === '-V') {
    try {
      io.stdout(`vigil ${vigilVersion()}\n`);
    } catch (e) {
      io.stderr(`${errorText(e)}\n`);
      return EXIT_INTERNAL;
    }
    return EXIT_OK;
  }
  if (name === 'help') {
    const topic = rest[0];
    if (topic === undefined) {
      io.stdout(usage(commands));
      return EXIT_OK;
    }
    const command = commands.find((c) => c.name === topic);
    if (command === undefined) {
      io.stderr(`vigil help: unknown command '${topic}'\n\n${usage(commands)}`);
      return EXIT_USAGE;
    }
    return runCommand(command, ['--help'], io);
  }
  const command = commands.find((c) => c.name === name);
  if (command === undefined) {
    const what = name.startsWith('-') ? 'unknown option' : 'unknown command';
    io.stderr(`vigil: ${what} '${name}'\n\n${usage(commands)}`);
    return EXIT_USAGE;
  }
  return runCommand(command, rest, io);
}

async function runCommand(command: CliCommand, argv: string[], io: CliIo): Promise<number> {
  try {
    return await command.run(argv, io);
  } catch (e) {
    const text = errorStackText(e);
    io.stderr(`vigil ${command.name}: internal error: ${text}\n`);
    return EXIT_INTERNAL;
  }
}

async function readProcessStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin as AsyncIterable<unknown>) {
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk), 'utf8'));
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The CliIo of the real process. */
export function processIo(): CliIo {
  return {
    stdout: (text) => void process.stdout.write(text),
    stdoutStream: process.stdout,
    stderr: (text) => void process.stderr.write(text),
    readStdin: readProcessStdin,
  };
}

/** True when this file is the program being run (also through the npm bin symlink), not an import. */
function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  // exitCode rather than process.exit(), so piped output is flushed before the process ends.
  process.exitCode = await runCli(process.argv.slice(2), processIo());
}
