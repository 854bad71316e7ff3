/**
 * The heartbeat's HMAC-SHA256 (heartbeat.ts HeartbeatMac) on the addon (src/native/hmac.cc):
 * the key prepared once, then per heartbeat two SHA-256 compressions into the caller's
 * buffer, with no object made, where node:crypto's createHmac makes a Hmac object, a
 * native context and an OpenSSL 3 provider fetch for every message. Same function, same
 * bytes on the wire (test/quorum-hmac.test.ts checks both against RFC 4231).
 */
import type { HeartbeatMac } from '../heartbeat.js';
import { native } from '../../native/index.js';

/** A HeartbeatMac for `key` on the addon. Throws if the key is empty. */
export function nativeHeartbeatMac(key: Uint8Array): HeartbeatMac {
  if (key.length === 0) throw new RangeError('heartbeat key is empty');
  const n = native();
  const state = n.hmacSha256Key(key);
  return {
    sign: (signed, out, offset) => n.hmacSha256(state, signed, out, offset),
    verify: (signed, mac) => n.hmacSha256Verify(state, signed, mac),
  };
}
