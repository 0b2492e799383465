import { describe, expect, it } from 'vitest';
import { fnv1a32 } from '../src/adapter/index.js';
import { hashPartitionStrategy } from '../src/index.js';

describe('fnv1a32', () => {
  it.each([
    ['a', 3826002220],
    ['user-1', 4115888500],
    ['alice@example.com', 2493822278],
    // Standard FNV-1a 32-bit test vectors.
    ['', 0x811c9dc5],
    ['foobar', 0xbf9cf968],
    ['hello', 0x4f9f2cab],
  ])('hashes %j to %d', (value, hash) => {
    expect(fnv1a32(value)).toBe(hash);
  });

  it('hashes the UTF-8 bytes of non-ASCII ids', () => {
    const manual = (bytes: Uint8Array) => {
      let h = 0x811c9dc5;
      for (const b of bytes) h = Math.imul(h ^ b, 0x01000193);
      return h >>> 0;
    };
    for (const id of ['zoë', '顧客-7', 'emoji-🦊', 'ümlaut@exämple.de']) {
      expect(fnv1a32(id)).toBe(manual(new TextEncoder().encode(id)));
    }
  });

  it('is always an unsigned 32-bit integer', () => {
    for (let i = 0; i < 1000; i++) {
      const h = fnv1a32(`id-${i}`);
      expect(Number.isInteger(h) && h >= 0 && h < 2 ** 32).toBe(true);
    }
  });
});

describe('hashPartitionStrategy', () => {
  it('assigns every aggregate to exactly one partition', () => {
    for (const total of [2, 3, 7]) {
      for (let i = 0; i < 200; i++) {
        const id = `agg-${i}`;
        const owners = Array.from({ length: total }, (_, key) => key).filter((key) =>
          hashPartitionStrategy.shouldProcess(id, key, total),
        );
        expect(owners).toEqual([fnv1a32(id) % total]);
      }
    }
  });

  it('processes everything with one partition', () => {
    expect(hashPartitionStrategy.shouldProcess('anything', 0, 1)).toBe(true);
  });

  it('matches pupsourcing for the reference ids', () => {
    expect(hashPartitionStrategy.shouldProcess('user-1', 4115888500 % 4, 4)).toBe(true);
    expect(hashPartitionStrategy.shouldProcess('a', 3826002220 % 3, 3)).toBe(true);
  });
});
