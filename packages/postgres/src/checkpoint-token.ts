import type { Checkpoint } from '@pup/core';
import type { CheckpointCodec } from '@pup/core/adapter';

const TRANSACTION_WIDTH = 20;
const POSITION_WIDTH = 19;
const TOKEN = /^(\d{20})-(\d{19})$/;
const MAX_TRANSACTION_ID = 2n ** 64n - 1n;
const MAX_POSITION = 2n ** 63n - 1n;
const LEADING_ZEROS = /^0+(?=\d)/;

/** A position in the PostgreSQL log order: (transaction id, global position). @internal */
export interface LogPosition {
  /** The writing transaction's id (xid8) as decimal text, without leading zeros. */
  readonly transactionId: string;
  /** The event's global position as decimal text, without leading zeros. */
  readonly globalPosition: string;
}

/** The position before the first event. @internal */
export const LOG_START: LogPosition = Object.freeze({ transactionId: '0', globalPosition: '0' });

/**
 * Encodes a checkpoint of the PostgreSQL store: the transaction id (20 digits), a dash and the
 * global position (19 digits), both zero-padded so that tokens compare as plain strings in log
 * order, such as `00000000000000000753-0000000000000000042`.
 * @internal
 */
export function encodeCheckpoint(
  transactionId: string | number | bigint,
  globalPosition: string | number | bigint,
): Checkpoint {
  return `${String(transactionId).padStart(TRANSACTION_WIDTH, '0')}-${String(globalPosition).padStart(POSITION_WIDTH, '0')}`;
}

/**
 * Parses the checkpoints made by {@link encodeCheckpoint} into their log position; anything else
 * is not a checkpoint of a PostgreSQL store (core rejects it before any SQL runs).
 * @internal
 */
export const postgresCheckpoints: CheckpointCodec<LogPosition> = Object.freeze({
  parse(checkpoint: string): LogPosition | undefined {
    const match = TOKEN.exec(checkpoint);
    if (
      match === null ||
      BigInt(match[1]!) > MAX_TRANSACTION_ID ||
      BigInt(match[2]!) > MAX_POSITION
    ) {
      return undefined;
    }
    return {
      transactionId: match[1]!.replace(LEADING_ZEROS, ''),
      globalPosition: match[2]!.replace(LEADING_ZEROS, ''),
    };
  },
});
