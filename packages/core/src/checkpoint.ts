import { InvalidArgumentError } from './errors.js';
import type { Checkpoint } from './types.js';

const POSITION_WIDTH = 16;
const POSITION_CHECKPOINT = /^\d{16}$/;

/**
 * Checkpoint of stores whose log order is the global position (SQLite, MySQL, in-memory): the
 * position as 16 zero-padded decimal digits, so checkpoints compare correctly as strings.
 */
export function positionCheckpoint(globalPosition: number): Checkpoint {
  return String(globalPosition).padStart(POSITION_WIDTH, '0');
}

/**
 * Reads a checkpoint made by {@link positionCheckpoint}; `null`/absent means the start (0).
 * @throws {InvalidArgumentError} when the token is not such a checkpoint.
 */
export function parsePositionCheckpoint(checkpoint: Checkpoint | null | undefined): number {
  if (checkpoint === null || checkpoint === undefined) return 0;
  if (typeof checkpoint !== 'string' || !POSITION_CHECKPOINT.test(checkpoint)) {
    throw new InvalidArgumentError(
      'checkpoint',
      `${JSON.stringify(checkpoint)} is not a checkpoint of this store`,
    );
  }
  return Number(checkpoint);
}

/** Compares two checkpoints of the same store: negative, zero or positive. `null` is the start. */
export function compareCheckpoints(a: Checkpoint | null, b: Checkpoint | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return a < b ? -1 : 1;
}
