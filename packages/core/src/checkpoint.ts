import type { Checkpoint } from './types.js';

/** Compares two checkpoints of the same store: negative, zero or positive. `null` is the start. */
export function compareCheckpoints(a: Checkpoint | null, b: Checkpoint | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return a < b ? -1 : 1;
}
