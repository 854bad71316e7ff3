/**
 * The JSON form of an advert, field for field the `decoded` object of the golden vectors
 * (snake_case as TShark and the captures name them). `vigil packet decode` prints it and
 * `vigil packet encode` reads it.
 */
import { AddressParseError, parseIp, type AddressFamily, type IpAddress } from '../net/address.js';
import { encodedLength, type Advert, type ReceivedAdvert } from './codec.js';
import { AUTH_DATA_LENGTH, toPriority, toV3Interval, toVrid, type Centiseconds } from './types.js';
import { errorText } from '../base/error-text.js';

export interface AdvertJson {
  version: 2 | 3;
  type: 1;
  vrid: number;
  priority: number;
  count: number;
  adver_int: number;
  adver_int_unit: 'seconds' | 'centiseconds';
  checksum?: string;
  addresses: string[];
  length: number;
  reserved?: number;
  auth_type?: number;
  auth_data?: string;
  auth_data_text?: string;
}

export function advertToJson(advert: Advert | ReceivedAdvert): AdvertJson {
  const common = {
    version: advert.version,
    type: 1 as const,
    vrid: advert.vrid,
    priority: advert.priority,
    count: advert.addresses.length,
  };
  const checksum = 'checksum' in advert ? { checksum: `0x${advert.checksum.toString(16).padStart(4, '0')}` } : {};
  const addresses = advert.addresses.map((a) => a.text);
  const length = encodedLength(advert);
  if (advert.version === 3) {
    return {
      ...common,
      reserved: advert.reserved,
      adver_int: advert.maxAdverInt,
      adver_int_unit: 'centiseconds',
      ...checksum,
      addresses,
      length,
    };
  }
  const text = Buffer.from(advert.authData).toString('latin1').replace(/\0+$/, '');
  return {
    ...common,
    auth_type: advert.authType,
    adver_int: advert.adverIntSeconds,
    adver_int_unit: 'seconds',
    ...checksum,
    addresses,
    auth_data_text: /^[\x20-\x7e]*$/.test(text) ? text : '',
    length,
    auth_data: Buffer.from(advert.authData).toString('hex'),
  };
}

export class AdvertJsonError extends Error {
  constructor(
    readonly field: string,
    readonly detail: string,
  ) {
    super(`${field}: ${detail}`);
    this.name = 'AdvertJsonError';
  }
}

function field<T>(name: string, value: unknown, check: (v: unknown) => v is T, what: string): T {
  if (!check(value)) throw new AdvertJsonError(name, `expected ${what}, got ${JSON.stringify(value)}`);
  return value;
}
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
const isString = (v: unknown): v is string => typeof v === 'string';

function ranged<T>(name: string, make: () => T): T {
  try {
    return make();
  } catch (e) {
    if (e instanceof AdvertJsonError) throw e;
    throw new AdvertJsonError(name, errorText(e));
  }
}

/**
 * Reads the JSON form. The family comes from the addresses. Fields derived from others
 * (count, length, checksum, adver_int_unit, auth_data_text) are ignored if present:
 * the encoder computes them.
 */
export function advertFromJson(input: unknown): Advert {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new AdvertJsonError('(root)', 'expected a JSON object');
  }
  const o = input as Record<string, unknown>;
  const version = field('version', o['version'], (v): v is 2 | 3 => v === 2 || v === 3, '2 or 3');
  if (o['type'] !== undefined && o['type'] !== 1) throw new AdvertJsonError('type', 'only type 1 (ADVERTISEMENT) exists');
  const vrid = ranged('vrid', () => toVrid(field('vrid', o['vrid'], isInt, 'an integer')));
  const priority = ranged('priority', () => toPriority(field('priority', o['priority'], isInt, 'an integer')));
  const texts = field('addresses', o['addresses'], isStringArray, 'an array of address strings');
  if (texts.length === 0) throw new AdvertJsonError('addresses', 'at least one address is needed');
  const addresses: IpAddress[] = texts.map((t, i) => {
    const parsed = parseIp(t);
    if (parsed instanceof AddressParseError) throw new AdvertJsonError(`addresses[${i}]`, parsed.message);
    return parsed;
  });
  const family: AddressFamily = (addresses[0] as IpAddress).family;
  addresses.forEach((a, i) => {
    if (a.family !== family) throw new AdvertJsonError(`addresses[${i}]`, `${a.text} mixes families`);
  });
  const adverInt = field('adver_int', o['adver_int'], isInt, 'an integer');
  if (version === 3) {
    const reserved = o['reserved'] === undefined ? 0 : field('reserved', o['reserved'], isInt, 'an integer');
    if (reserved < 0 || reserved > 15) throw new AdvertJsonError('reserved', 'is 4 bits (0..15)');
    const maxAdverInt: Centiseconds = ranged('adver_int', () => toV3Interval(adverInt));
    return { version: 3, family, vrid, priority, maxAdverInt, reserved, addresses };
  }
  if (family !== 'ipv4') throw new AdvertJsonError('version', 'VRRPv2 carries IPv4 addresses only');
  if (adverInt < 1 || adverInt > 255) throw new AdvertJsonError('adver_int', 'VRRPv2 interval is 1..255 seconds');
  const authType = o['auth_type'] === undefined ? 0 : field('auth_type', o['auth_type'], isInt, 'an integer');
  if (authType < 0 || authType > 255) throw new AdvertJsonError('auth_type', 'is one byte');
  let authData = new Uint8Array(AUTH_DATA_LENGTH);
  if (o['auth_data'] !== undefined) {
    const hex = field('auth_data', o['auth_data'], isString, 'a hex string');
    if (!/^[0-9a-fA-F]{16}$/.test(hex)) throw new AdvertJsonError('auth_data', 'expected 16 hex digits (8 bytes)');
    authData = Uint8Array.from(Buffer.from(hex, 'hex'));
  } else if (o['auth_data_text'] !== undefined) {
    const text = field('auth_data_text', o['auth_data_text'], isString, 'a string');
    authData.set(Buffer.from(text, 'utf8').subarray(0, AUTH_DATA_LENGTH));
  }
  return { version: 2, family: 'ipv4', vrid, priority, adverIntSeconds: adverInt, authType, authData, addresses };
}
