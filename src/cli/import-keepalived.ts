/**
 * `vigil import-keepalived FILE [-o OUT] [-i CONFIG_ID]`: writes the vigil.yaml equivalent
 * of a keepalived.conf (and the files it includes). What vigil cannot express becomes a
 * comment in the output at that place and a warning `FILE:LINE: keyword: why` on stderr.
 *
 *   exit 0: converted (with or without warnings);
 *   exit 1: the input cannot be read as keepalived.conf (the error names the file and line),
 *           or it holds no vrrp_instance vigil can run (e.g. an LVS-only config);
 *   exit 2: bad usage.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { formatWarning } from '../keepalived/context.js';
import { convertKeepalived } from '../keepalived/convert.js';
import { KeepalivedSyntaxError, readKeepalivedConf } from '../keepalived/parse.js';
import type { CliCommand, CliIo } from './main.js';
import { errorText } from '../base/error-text.js';

const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

const USAGE = 'vigil import-keepalived FILE [-o|--output OUT] [-i|--config-id ID]';

const HELP = `Usage: ${USAGE}

Converts a keepalived.conf (with the files it includes) to a vigil.yaml: global_defs,
vrrp_instance, vrrp_sync_group, vrrp_script and vrrp_track_process (as health checks),
notify scripts, the notify FIFO, D-Bus and SNMP. Whatever vigil cannot express is written
as a comment at that place and reported on stderr as FILE:LINE: keyword: why.
docs/migrating-from-keepalived.md lists every keyword.

  -o, --output OUT     write the YAML to OUT (default: standard output)
  -i, --config-id ID   keepalived's -i: decides the "@ID" conditional lines
                       (default, as keepalived: the host name up to the first dot)
  -h, --help           show this help

Exit status: 0 converted (warnings or not), 1 the input cannot be read or holds no
vrrp_instance vigil can run, 2 bad usage. Check the result with vigil check-config.
`;

function isParseArgsError(e: unknown): e is Error {
  if (!(e instanceof Error)) return false;
  const code: unknown = (e as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}

export interface ImportOutcome {
  readonly code: number;
  readonly yaml?: string;
  readonly stderr: string;
}

/** The conversion without the argument handling (tests call it). */
export function importKeepalived(file: string, configId: string | undefined, configIdGiven = true): ImportOutcome {
  let read;
  try {
    read = readKeepalivedConf(file, {
      ...(configId !== undefined ? { configId } : {}),
      readFile: (f) => readFileSync(f, 'utf8'),
      listDir: (d) => readdirSync(d),
      env: process.env,
    });
  } catch (e) {
    if (e instanceof KeepalivedSyntaxError) return { code: EXIT_FAILED, stderr: `vigil import-keepalived: ${e.message}\n` };
    throw e;
  }
  const header = [
    `vigil.yaml imported from ${file} by vigil import-keepalived${configId !== undefined ? ` (config-id ${configId})` : ''}.`,
    'Comments that start with FILE:LINE: are keepalived lines this file does not express, and why',
    '(docs/migrating-from-keepalived.md). Check it with: vigil check-config -c FILE',
    '',
  ];
  const result = convertKeepalived(read.statements, header);
  const idNote =
    read.conditionals > 0 && !configIdGiven
      ? `vigil import-keepalived: note: ${read.conditionals} conditional (@) lines decided for config-id "${configId ?? ''}", this host's name as keepalived would; give -i ID to import for another node\n`
      : '';
  const notes = idNote + read.notes.map((n) => `${n.where.file}:${n.where.line}: ${n.keyword}: ${n.message}\n`).join('');
  const warnings = result.warnings.map((w) => `${formatWarning(w)}\n`).join('');
  if (result.instances === 0) {
    return {
      code: EXIT_FAILED,
      yaml: result.yaml,
      stderr: `${notes}${warnings}vigil import-keepalived: ${file}: no vrrp_instance that vigil can run: nothing to convert\n`,
    };
  }
  return { code: EXIT_OK, yaml: result.yaml, stderr: notes + warnings };
}

export const importKeepalivedCommand: CliCommand = {
  name: 'import-keepalived',
  summary: 'Convert a keepalived.conf to a vigil.yaml',
  async run(argv: string[], io: CliIo): Promise<number> {
    let file: string;
    let output: string | undefined;
    let configId: string | undefined;
    let configIdGiven = false;
    try {
      const { values, positionals } = parseArgs({
        args: argv,
        options: { output: { type: 'string', short: 'o' }, 'config-id': { type: 'string', short: 'i' }, help: { type: 'boolean', short: 'h' } },
        strict: true,
        allowPositionals: true,
      });
      if (values.help === true) {
        io.stdout(HELP);
        return EXIT_OK;
      }
      if (positionals.length !== 1 || positionals[0] === undefined) {
        io.stderr(`vigil import-keepalived: expected one FILE\nUsage: ${USAGE}\n`);
        return EXIT_USAGE;
      }
      file = positionals[0];
      output = values.output;
      configIdGiven = values['config-id'] !== undefined;
      configId = values['config-id'] ?? hostname().split('.')[0];
    } catch (e) {
      if (!isParseArgsError(e)) throw e;
      io.stderr(`vigil import-keepalived: ${e.message}\nUsage: ${USAGE}\n`);
      return EXIT_USAGE;
    }
    const outcome = importKeepalived(file, configId, configIdGiven);
    if (outcome.stderr !== '') io.stderr(outcome.stderr);
    if (outcome.code !== EXIT_OK || outcome.yaml === undefined) return outcome.code;
    if (output !== undefined) {
      try {
        writeFileSync(output, outcome.yaml);
      } catch (e) {
        io.stderr(`vigil import-keepalived: cannot write ${output}: ${errorText(e)}\n`);
        return EXIT_FAILED;
      }
    } else io.stdout(outcome.yaml);
    return EXIT_OK;
  },
};
