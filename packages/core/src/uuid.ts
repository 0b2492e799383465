import { getRandomValues } from 'node:crypto';

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `value` is a UUID in its canonical 8-4-4-4-12 hex form (any version). */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && value.length === 36 && UUID_PATTERN.test(value);
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const POOL_SIZE = 16 * 256;
let pool = new Uint8Array(POOL_SIZE);
let poolOffset = POOL_SIZE;

/**
 * A time-ordered UUID (version 7, RFC 9562): 48 bits of Unix milliseconds then random bits.
 * Ids of events written close in time sort close together, which keeps the unique index on
 * `event_id` compact.
 */
export function uuidv7(now: number = Date.now()): string {
  if (poolOffset + 10 > POOL_SIZE) {
    pool = getRandomValues(new Uint8Array(POOL_SIZE));
    poolOffset = 0;
  }
  const r = pool;
  const o = poolOffset;
  poolOffset += 10;
  const ms = Math.max(0, Math.floor(now));
  const high = Math.floor(ms / 0x1000000);
  const low = ms % 0x1000000;
  return (
    HEX[(high >>> 16) & 0xff]! +
    HEX[(high >>> 8) & 0xff]! +
    HEX[high & 0xff]! +
    HEX[(low >>> 16) & 0xff]! +
    '-' +
    HEX[(low >>> 8) & 0xff]! +
    HEX[low & 0xff]! +
    '-' +
    HEX[0x70 | (r[o]! & 0x0f)]! +
    HEX[r[o + 1]!]! +
    '-' +
    HEX[0x80 | (r[o + 2]! & 0x3f)]! +
    HEX[r[o + 3]!]! +
    '-' +
    HEX[r[o + 4]!]! +
    HEX[r[o + 5]!]! +
    HEX[r[o + 6]!]! +
    HEX[r[o + 7]!]! +
    HEX[r[o + 8]!]! +
    HEX[r[o + 9]!]!
  );
}
