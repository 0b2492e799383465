import type { Checkpoint } from '../types.js';
import type { CheckpointCodec } from './dialect.js';

const POSITION_WIDTH = 16;
const POSITION_CHECKPOINT = /^\d{16}$/;

/**
 * Checkpoint of stores whose log order is the global position (SQLite, MySQL, in-memory): the
 * position as 16 zero-padded decimal digits, so checkpoints compare correctly as strings; 16
 * digits hold every safe integer.
 */
export function positionCheckpoint(globalPosition: number): Checkpoint {
  return String(globalPosition).padStart(POSITION_WIDTH, '0');
}

/** Parses checkpoints made by {@link positionCheckpoint} into their global position. */
export const positionCheckpoints: CheckpointCodec<number> = Object.freeze({
  parse(checkpoint: string): number | undefined {
    if (!POSITION_CHECKPOINT.test(checkpoint)) return undefined;
    const position = Number(checkpoint);
    return Number.isSafeInteger(position) ? position : undefined;
  },
});
