/**
 * Units in the config: durations ("10ms", "5cs", "1s", "1.5s", or a plain number of
 * seconds), address prefixes ("10.213.0.100/24"), and how a value is shown in a message.
 * No I/O, no state.
 */
import { AddressParseError, parseIp, type AddressFamily, type IpAddress } from '../net/address.js';

/** A value as the user wrote it, for messages. */
export function describe(value: unknown): string {
  if (value === undefined || value === null) return 'an empty value';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return 'a list';
  return 'a mapping';
}

const DURATION_TEXT = /^([0-9]+)(?:\.([0-9]+))?(ms|cs|s)$/;
const NUMBER_TEXT = /^([0-9]+)(?:\.([0-9]+))?$/;
/** log10 of the microseconds in one unit. */
const UNIT_DIGITS: Readonly<Record<string, number>> = { s: 6, cs: 4, ms: 3 };

type DurationResult = { readonly us: number } | { readonly error: string } | undefined;

/**
 * A duration in whole microseconds, computed from the decimal text (no binary rounding:
 * "1.1s" is exactly 1 100 000 µs). undefined if it is not a duration at all (the schema
 * says so); an error if it is finer than a microsecond or absurdly long.
 */
export function parseDurationMicros(value: unknown): DurationResult {
  let match: RegExpExecArray | null;
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) return undefined;
    match = NUMBER_TEXT.exec(String(value));
    if (match === null) return { error: `${describe(value)} is not a duration vigil can represent; write it with a unit, e.g. "10ms"` };
    match = DURATION_TEXT.exec(`${String(value)}s`);
  } else if (typeof value === 'string') {
    match = DURATION_TEXT.exec(value);
  } else {
    return undefined;
  }
  if (match === null) return undefined;
  const [, whole = '0', fraction = '', unit = 's'] = match;
  const digits = UNIT_DIGITS[unit] ?? 6;
  if (fraction.replace(/0+$/, '').length > digits) {
    return { error: `${describe(value)} is finer than a microsecond` };
  }
  const us = Number(whole) * 10 ** digits + Number(fraction.padEnd(digits, '0').slice(0, digits) || '0');
  if (!Number.isSafeInteger(us)) return { error: `${describe(value)} is too long` };
  return { us };
}

/** How an interval is shown: "1s", "1.5s", "10ms". */
export function formatCentiseconds(cs: number): string {
  return cs >= 100 ? `${cs / 100}s` : `${cs * 10}ms`;
}

type PrefixResult = { readonly address: IpAddress; readonly prefixLength: number } | { readonly error: string };

/** "addr/len" or a bare address (a host prefix, as keepalived). */
export function parsePrefix(text: string): PrefixResult {
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const lengthText = slash < 0 ? undefined : text.slice(slash + 1);
  const family: AddressFamily = addressText.includes(':') ? 'ipv6' : 'ipv4';
  const familyName = family === 'ipv4' ? 'IPv4' : 'IPv6';
  let what: string;
  if (lengthText !== undefined) what = `an ${familyName} prefix`;
  else if (family === 'ipv6' || /^[0-9.]+$/.test(addressText)) what = `an ${familyName} address`;
  else what = 'an IP address';
  const fail = { error: `${JSON.stringify(text)} is not ${what}` };
  const address = parseIp(addressText, family);
  if (address instanceof AddressParseError) return fail;
  const max = family === 'ipv4' ? 32 : 128;
  if (lengthText === undefined) return { address, prefixLength: max };
  // No leading zeros: iproute2 reads "/024" as octal (20).
  if (!/^(0|[1-9][0-9]{0,2})$/.test(lengthText) || Number(lengthText) > max) return fail;
  return { address, prefixLength: Number(lengthText) };
}

export function familyName(family: AddressFamily): string {
  return family === 'ipv4' ? 'IPv4' : 'IPv6';
}

/** "10.213.0.250:80" or "[fd13::250]:80"; undefined if it is not an address and a port 1..65535. */
export function parseHostPort(text: string): { readonly address: IpAddress; readonly port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):([0-9]{1,5})$/.exec(text);
  if (m === null) return undefined;
  const address = parseIp(m[1] ?? m[2] ?? '');
  const port = Number(m[3]);
  if (address instanceof AddressParseError || port < 1 || port > 65535) return undefined;
  return { address, port };
}
