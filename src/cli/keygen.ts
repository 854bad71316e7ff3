/**
 * `vigil keygen [--file PATH] [--force]`: writes a new shared heartbeat key (32 random
 * bytes, base64, mode 0600) for the quorum; copy the same file to every node.
 *
 *   written:        one line on stdout naming the file, exit 0;
 *   file exists:    refused without --force, message on stderr, exit 1;
 *   other failures: message on stderr, exit 1; bad usage: exit 2.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_KEY_PATH, KEY_LENGTH, KeyFileError, writeKeyFile } from '../quorum/io/authkey.js';
import type { CliCommand, CliIo } from './main.js';
import { errorText } from '../base/error-text.js';

// Kept local (not imported from main.ts) so this module has no runtime import of main.
const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

const USAGE = 'vigil keygen [-f|--file PATH] [--force]';

const HELP = `Usage: ${USAGE}

Writes a new shared key for the quorum heartbeats: ${KEY_LENGTH} random bytes, base64 on
one line, in a file of mode 0600 (create it as root: the daemon refuses a key file not
owned by root or readable by group or others). Copy the same file to every node.

  -f, --file PATH   where to write it (default ${DEFAULT_KEY_PATH})
      --force       replace an existing key file (nodes with the old key stop
                    accepting this node's heartbeats until they have the new one)
  -h, --help        show this help
`;

function isParseArgsError(e: unknown): e is Error {
  if (!(e instanceof Error)) return false;
  const code: unknown = (e as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}

export const keygenCommand: CliCommand = {
  name: 'keygen',
  summary: 'Write a new shared key for the quorum heartbeats',
  async run(argv: string[], io: CliIo): Promise<number> {
    let file: string;
    let force: boolean;
    try {
      const { values } = parseArgs({
        args: argv,
        options: { file: { type: 'string', short: 'f' }, force: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
        strict: true,
        allowPositionals: false,
      });
      if (values.help === true) {
        io.stdout(HELP);
        return EXIT_OK;
      }
      file = values.file ?? DEFAULT_KEY_PATH;
      force = values.force === true;
    } catch (e) {
      if (!isParseArgsError(e)) throw e;
      io.stderr(`vigil keygen: ${e.message}\nUsage: ${USAGE}\n`);
      return EXIT_USAGE;
    }
    if (file === '') {
      io.stderr(`vigil keygen: --file needs a path\nUsage: ${USAGE}\n`);
      return EXIT_USAGE;
    }
    try {
      const key = await writeKeyFile(file, { force });
      io.stdout(`wrote a ${key.length}-byte key to ${file} (mode 0600)\n`);
      return EXIT_OK;
    } catch (e) {
      if (e instanceof KeyFileError) {
        io.stderr(`vigil keygen: ${e.message}\n`);
        return EXIT_FAILED;
      }
      const code = e instanceof Error ? (e as { code?: unknown }).code : undefined;
      if (typeof code === 'string') {
        io.stderr(`vigil keygen: cannot write ${file}: ${errorText(e)}\n`);
        return EXIT_FAILED;
      }
      throw e;
    }
  },
};
