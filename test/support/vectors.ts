/**
 * The golden vectors captured from keepalived, in test/vectors (its README says how they
 * were captured and what each field means).
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
/** dist/test/support -> repository root. */
export const REPO_ROOT = path.resolve(here, '..', '..', '..');

export const VECTORS_DIR = path.join(REPO_ROOT, 'test', 'vectors');

export interface AdvertVectorDecoded {
  version: number;
  type: number;
  vrid: number;
  priority: number;
  count: number;
  adver_int: number;
  adver_int_unit: 'seconds' | 'centiseconds';
  checksum: string;
  addresses: string[];
  length: number;
  reserved?: number;
  auth_type?: number;
  auth_data?: string;
  auth_data_text?: string;
}

export interface Vector {
  name: string;
  case: string;
  description: string;
  frame: boolean;
  payload_hex: string;
  ip: null | { version: 4 | 6; src: string; dst: string; ttl_or_hop_limit: number };
  decoded: Record<string, unknown>;
  also?: { payload_hex: string; decoded: Record<string, unknown> }[];
}

export function loadVectors(): Vector[] {
  if (!existsSync(VECTORS_DIR)) throw new Error(`golden vectors not found at ${VECTORS_DIR}`);
  return readdirSync(VECTORS_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(path.join(VECTORS_DIR, f), 'utf8')) as Vector);
}

export function advertVectors(): (Vector & { decoded: AdvertVectorDecoded; ip: NonNullable<Vector['ip']> })[] {
  return loadVectors().filter((v) => !v.frame) as (Vector & {
    decoded: AdvertVectorDecoded;
    ip: NonNullable<Vector['ip']>;
  })[];
}

export function frameVectors(): Vector[] {
  return loadVectors().filter((v) => v.frame);
}
