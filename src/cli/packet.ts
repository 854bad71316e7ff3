/**
 * `vigil packet decode|encode`: the VRRP advert codec on the command line, for looking at
 * a payload copied from a capture, or building one to send with another tool.
 *
 *   vigil packet decode --hex HEX --src ADDR --dst ADDR [--ttl N] [--checksum MODE]
 *     prints the advert as JSON (the `decoded` form of the golden vectors) and exits 0,
 *     or prints {"rejected": true, reason, counter, detail} and exits 1.
 *   vigil packet encode [--src ADDR --dst ADDR] [--checksum MODE] < advert.json
 *     prints the payload in hex.
 */
import { parseArgs } from 'node:util';
import { AddressParseError, parseIp, type IpAddress } from '../net/address.js';
import { AdvertJsonError, advertFromJson, advertToJson } from '../vrrp/advert-json.js';
import { decodeAdvert, encodeAdvert, EncodeError, VRRP_TTL, type Advert } from '../vrrp/codec.js';
import { REJECT_COUNTER } from '../vrrp/rejection.js';
import type { V3Ipv4ChecksumMode } from '../vrrp/types.js';
import type { CliCommand, CliIo } from './main.js';
import { errorText } from '../base/error-text.js';

// Kept local (not imported from main.ts) so this module has no runtime import of main.
const EXIT_OK = 0;
const EXIT_REJECTED = 1;
const EXIT_USAGE = 2;

const DECODE_USAGE =
  'vigil packet decode --hex HEX --src ADDR --dst ADDR [--ttl N] [--checksum rfc5798|rfc9568|either]';
const ENCODE_USAGE = 'vigil packet encode [--src ADDR --dst ADDR] [--checksum rfc5798|rfc9568] < advert.json';

const PACKET_HELP = `Usage: ${DECODE_USAGE}
       ${ENCODE_USAGE}

decode  Decodes a VRRP advertisement (the IP payload, without the IP header) and
        prints it as JSON. Exit 0 if it decodes, 1 if a receiver would drop it (the
        JSON then gives the reason and the MIB counter it would increment).
          --hex HEX       the payload; spaces and colons are ignored
          --src ADDR      the IP source address (IPv4 or IPv6)
          --dst ADDR      the IP destination address
          --ttl N         the IPv4 TTL / IPv6 hop limit received (default 255)
          --checksum M    IPv4 VRRPv3 checksum: rfc5798 (default, with the
                          pseudo-header), rfc9568 (without) or either

encode  Reads an advert in the same JSON form on stdin and prints its hex. Derived
        fields (count, length, checksum, adver_int_unit, auth_data_text) are computed.
          --src ADDR      the IP source (needed for VRRPv3: the checksum covers the
          --dst ADDR      the IP destination  IP pseudo-header; unused for VRRPv2)
          --checksum M    IPv4 VRRPv3 checksum: rfc5798 (default) or rfc9568
`;

class UsageError extends Error {
  override readonly name = 'UsageError';
}

function usageFail(io: CliIo, context: string, message: string, usageLine: string): number {
  io.stderr(`vigil packet ${context}: ${message}\nUsage: ${usageLine}\n`);
  return EXIT_USAGE;
}

/** Node's parseArgs errors (unknown option, missing value) carry a code starting ERR_PARSE_ARGS. */
function isParseArgsError(e: unknown): e is Error {
  if (!(e instanceof Error)) return false;
  const code: unknown = (e as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}

/**
 * HEX to bytes. Whitespace and colons are ignored; anything else that is not a hex digit,
 * or an odd number of digits, is an error naming the (1-based) character position.
 */
export function parseHex(text: string): Uint8Array {
  const digits: number[] = [];
  let lastDigitPosition = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charAt(i);
    if (c === ':' || /\s/.test(c)) continue;
    if (!/^[0-9a-fA-F]$/.test(c)) {
      throw new UsageError(`--hex: ${JSON.stringify(c)} at position ${i + 1} is not a hex digit`);
    }
    digits.push(Number.parseInt(c, 16));
    lastDigitPosition = i + 1;
  }
  if (digits.length === 0) throw new UsageError('--hex: no hex digits');
  if (digits.length % 2 !== 0) {
    throw new UsageError(
      `--hex: odd number of hex digits (${digits.length}); the last digit, at position ${lastDigitPosition}, has no pair`,
    );
  }
  const bytes = new Uint8Array(digits.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = ((digits[2 * i] as number) << 4) | (digits[2 * i + 1] as number);
  return bytes;
}

function parseAddress(option: string, text: string | undefined): IpAddress {
  if (text === undefined) throw new UsageError(`${option} ADDR is required`);
  const parsed = parseIp(text);
  if (parsed instanceof AddressParseError) throw new UsageError(`${option}: ${parsed.message}`);
  return parsed;
}

function parseTtl(text: string | undefined): number {
  if (text === undefined) return VRRP_TTL;
  if (!/^\d{1,3}$/.test(text) || Number(text) > 255) {
    throw new UsageError(`--ttl: expected an integer 0..255, got ${JSON.stringify(text)}`);
  }
  return Number(text);
}

function parseChecksumMode(text: string | undefined, allowed: readonly V3Ipv4ChecksumMode[]): V3Ipv4ChecksumMode {
  if (text === undefined) return 'rfc5798';
  const mode = allowed.find((m) => m === text);
  if (mode === undefined) throw new UsageError(`--checksum: expected ${allowed.join(', ')}, got ${JSON.stringify(text)}`);
  return mode;
}

async function decode(argv: string[], io: CliIo): Promise<number> {
  let packet: Uint8Array;
  let src: IpAddress;
  let dst: IpAddress;
  let ttl: number;
  let mode: V3Ipv4ChecksumMode;
  try {
    const { values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        hex: { type: 'string' },
        src: { type: 'string' },
        dst: { type: 'string' },
        ttl: { type: 'string' },
        checksum: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help === true) {
      io.stdout(PACKET_HELP);
      return EXIT_OK;
    }
    if (values.hex === undefined) throw new UsageError('--hex HEX is required (the VRRP payload in hex)');
    packet = parseHex(values.hex);
    src = parseAddress('--src', values.src);
    dst = parseAddress('--dst', values.dst);
    ttl = parseTtl(values.ttl);
    mode = parseChecksumMode(values.checksum, ['rfc5798', 'rfc9568', 'either']);
  } catch (e) {
    if (e instanceof UsageError || isParseArgsError(e)) return usageFail(io, 'decode', e.message, DECODE_USAGE);
    throw e;
  }
  const result = decodeAdvert(packet, { src, dst, ttl }, { v3Ipv4Checksum: mode });
  if (!result.ok) {
    const rejected = { rejected: true, reason: result.reason, counter: REJECT_COUNTER[result.reason], detail: result.detail };
    io.stdout(`${JSON.stringify(rejected, null, 2)}\n`);
    return EXIT_REJECTED;
  }
  io.stdout(`${JSON.stringify(advertToJson(result.advert), null, 2)}\n`);
  return EXIT_OK;
}

async function encode(argv: string[], io: CliIo): Promise<number> {
  let src: IpAddress | undefined;
  let dst: IpAddress | undefined;
  let mode: V3Ipv4ChecksumMode;
  try {
    const { values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        src: { type: 'string' },
        dst: { type: 'string' },
        checksum: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help === true) {
      io.stdout(PACKET_HELP);
      return EXIT_OK;
    }
    src = values.src === undefined ? undefined : parseAddress('--src', values.src);
    dst = values.dst === undefined ? undefined : parseAddress('--dst', values.dst);
    mode = parseChecksumMode(values.checksum, ['rfc5798', 'rfc9568']);
  } catch (e) {
    if (e instanceof UsageError || isParseArgsError(e)) return usageFail(io, 'encode', e.message, ENCODE_USAGE);
    throw e;
  }

  const input = await io.readStdin();
  if (input.trim() === '') return usageFail(io, 'encode', 'no JSON on stdin (expected an advert object)', ENCODE_USAGE);
  let json: unknown;
  try {
    json = JSON.parse(input);
  } catch (e) {
    return usageFail(io, 'encode', `stdin is not valid JSON: ${errorText(e)}`, ENCODE_USAGE);
  }
  let advert: Advert;
  try {
    advert = advertFromJson(json);
  } catch (e) {
    if (e instanceof AdvertJsonError) {
      return usageFail(io, 'encode', `invalid field '${e.field}' in the advert JSON: ${e.detail}`, ENCODE_USAGE);
    }
    throw e;
  }

  // The checksum covers the IP pseudo-header for VRRPv3, except IPv4 with RFC 9568's form.
  const pseudoHeader = advert.version === 3 && (advert.family === 'ipv6' || mode !== 'rfc9568');
  if (pseudoHeader && (src === undefined || dst === undefined)) {
    const missing = [src === undefined ? '--src' : undefined, dst === undefined ? '--dst' : undefined]
      .filter((o) => o !== undefined)
      .join(' and ');
    return usageFail(
      io,
      'encode',
      `${missing} required: a VRRPv3 checksum covers the IP pseudo-header (source and destination addresses)`,
      ENCODE_USAGE,
    );
  }
  for (const [option, address] of [
    ['--src', src],
    ['--dst', dst],
  ] as const) {
    if (address !== undefined && address.family !== advert.family) {
      return usageFail(io, 'encode', `${option} ${address.text} is not ${advert.family} like the advert's addresses`, ENCODE_USAGE);
    }
  }
  // When the pseudo-header is unused, the addresses do not enter the checksum: any will do.
  const unspecified = parseIp(advert.family === 'ipv4' ? '0.0.0.0' : '::') as IpAddress;
  let bytes: Buffer;
  try {
    bytes = encodeAdvert(advert, { src: src ?? unspecified, dst: dst ?? unspecified }, { v3Ipv4Checksum: mode });
  } catch (e) {
    if (e instanceof EncodeError) return usageFail(io, 'encode', e.message, ENCODE_USAGE);
    throw e;
  }
  io.stdout(`${bytes.toString('hex')}\n`);
  return EXIT_OK;
}

export const packetCommand: CliCommand = {
  name: 'packet',
  summary: 'Decode a VRRP advert from hex to JSON, or encode JSON to hex',
  async run(argv: string[], io: CliIo): Promise<number> {
    const [sub, ...rest] = argv;
    switch (sub) {
      case 'decode':
        return decode(rest, io);
      case 'encode':
        return encode(rest, io);
      case '--help':
      case '-h':
      case 'help':
        io.stdout(PACKET_HELP);
        return EXIT_OK;
      case undefined:
        io.stderr(`vigil packet: a subcommand is needed (decode or encode)\n\n${PACKET_HELP}`);
        return EXIT_USAGE;
      default:
        io.stderr(`vigil packet: unknown subcommand '${sub}' (expected decode or encode)\n\n${PACKET_HELP}`);
        return EXIT_USAGE;
    }
  },
};
