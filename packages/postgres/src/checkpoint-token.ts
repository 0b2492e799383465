import { type Checkpoint, InvalidArgumentError } from '@pup/core';

const TRANSACTION_WIDTH = 20;
const POSITION_WIDTH = 19;
const TOKEN = /^(\d{20})-(\d{19})$/;
const MAX_TRANSACTION_ID = 2n ** 64n - 1n;
const MAX_POSITION = 2n ** 63n - 1n;

/** A position in the PostgreSQL log order: (transaction id, global position). @internal */
export interface LogPosition {
  /** The writing transaction's id (xid8) as decimal text. */
  transactionId: string;
  /** The event's global position as decimal text. */
  globalPosition: string;
}

/** The position before the first event. @internal */
export const LOG_START: Readonly<LogPosition> = Object.freeze({
  transactionId: '0',
  globalPosition: '0',
});

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
 * Decodes a checkpoint made by {@link encodeCheckpoint}; `null`/absent is the start of the log.
 * @throws {InvalidArgumentError} when the token is not a checkpoint of a PostgreSQL store.
 * @internal
 */
export function parseCheckpoint(checkpoint: Checkpoint | null | undefined): LogPosition {
  if (checkpoint === null || checkpoint === undefined) return LOG_START;
  const match = typeof checkpoint === 'string' ? TOKEN.exec(checkpoint) : null;
  if (
    match === null ||
    BigInt(match[1]!) > MAX_TRANSACTION_ID ||
    BigInt(match[2]!) > MAX_POSITION
  ) {
    throw new InvalidArgumentError(
      'checkpoint',
      `${JSON.stringify(checkpoint)} is not a checkpoint of a PostgreSQL event store`,
    );
  }
  return {
    transactionId: match[1]!.replace(/^0+(?=\d)/, ''),
    globalPosition: match[2]!.replace(/^0+(?=\d)/, ''),
  };
}
