/** Decides whether a worker owns an aggregate. */
export interface PartitionStrategy {
  /** Whether the worker with `partitionKey` of `totalPartitions` handles `aggregateId`. */
  shouldProcess(aggregateId: string, partitionKey: number, totalPartitions: number): boolean;
}

const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const encoder = new TextEncoder();

/**
 * 32-bit FNV-1a over the UTF-8 bytes of `value`, unsigned. Identical to pupsourcing's hash, so an
 * aggregate lands on the same partition in both.
 *
 * @example fnv1a32('user-1') // 4115888500
 */
export function fnv1a32(value: string): number {
  let hash = FNV_OFFSET_BASIS;
  let ascii = true;
  for (let i = 0; i < value.length; i++) {
    if (value.charCodeAt(i) > 0x7f) {
      ascii = false;
      break;
    }
  }
  if (ascii) {
    for (let i = 0; i < value.length; i++) {
      hash = Math.imul(hash ^ value.charCodeAt(i), FNV_PRIME);
    }
  } else {
    for (const byte of encoder.encode(value)) {
      hash = Math.imul(hash ^ byte, FNV_PRIME);
    }
  }
  return hash >>> 0;
}

/** The default strategy: `fnv1a32(aggregateId) % totalPartitions === partitionKey`. */
export const hashPartitionStrategy: PartitionStrategy = {
  shouldProcess(aggregateId, partitionKey, totalPartitions) {
    if (totalPartitions <= 1) return true;
    return fnv1a32(aggregateId) % totalPartitions === partitionKey;
  },
};
