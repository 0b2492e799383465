import {
  ConnectionLostError,
  DatabaseError,
  OperationAbortedError,
  type PupError,
} from '@pup/core';
import type { AppendOutcome } from '@pup/core/adapter';
import { DATABASE, type PostgresDriver } from './driver.js';
import type { PostgresTables } from './schema.js';

const UNIQUE_VIOLATION = '23505';
/** SQLSTATEs of failures a new attempt of the whole transaction may not meet again. */
const TRANSIENT_STATES = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '55P03', // lock_not_available
]);
/** SQLSTATEs that end the session: the server shut it down or the connection broke. */
const CONNECTION_STATES = new Set(['57P01', '57P02', '57P03']);
/** Socket errors of Node.js that mean the connection is gone or could not be made. */
const NETWORK_ERROR_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * Whether an error code (a SQLSTATE, or a Node.js socket error code) says the connection is
 * lost: SQLSTATE class 08 (connection exception), an administrator or crash shutdown, a socket
 * error.
 * @internal
 */
export function isConnectionLossCode(code: string | undefined): boolean {
  if (code === undefined) return false;
  return code.startsWith('08') || CONNECTION_STATES.has(code) || NETWORK_ERROR_CODES.has(code);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The pup error a driver error stands for, when pup has a more precise one than a plain
 * `DatabaseError`: `ConnectionLostError` for a lost connection (`commitUnknown` when the COMMIT
 * may have reached the server), a transient `DatabaseError` for deadlocks, serialization
 * failures and lock timeouts. `undefined` otherwise (core wraps it in a `DatabaseError`).
 * @internal
 */
export function describeDriverError(
  driver: PostgresDriver<any>,
  error: unknown,
  commitUnknown = false,
): PupError | undefined {
  const info = driver.describeError(error);
  if (info === undefined) return undefined;
  if (info.connectionLost) {
    return new ConnectionLostError(
      DATABASE,
      commitUnknown
        ? `the connection was lost after COMMIT was sent, so the transaction may have committed: ${messageOf(error)}`
        : `the connection was lost: ${messageOf(error)}`,
      { cause: error, commitUnknown },
    );
  }
  if (info.code !== undefined && TRANSIENT_STATES.has(info.code)) {
    return new DatabaseError(DATABASE, messageOf(error), { cause: error, transient: true });
  }
  return undefined;
}
const DUPLICATE_KEY_DETAIL = /^Key \(event_id\)=\(([0-9a-f-]{36})\) already exists/i;
const STREAM_VERSION_DETAIL = /, (\d+)\) already exists/;

/**
 * The append outcome a unique violation raised by an append stands for: a duplicate event id, or
 * a duplicate stream version (a failed version check). `undefined` for any other error, which
 * core wraps as a `DatabaseError`.
 * @internal
 */
export function appendFailure(
  error: unknown,
  driver: PostgresDriver<any>,
  tables: PostgresTables,
): AppendOutcome | undefined {
  const info = driver.describeError(error);
  if (info?.code !== UNIQUE_VIOLATION) return undefined;
  if (info.constraint === tables.eventIdConstraint) {
    const eventId = info.detail === undefined ? undefined : DUPLICATE_KEY_DETAIL.exec(info.detail);
    return { status: 'duplicateEventId', eventId: eventId?.[1]?.toLowerCase(), cause: error };
  }
  if (info.constraint === tables.streamVersionConstraint) {
    // Only reachable when the heads table disagrees with the log (rows edited by hand): the
    // conflicting version is the best knowledge of the stream's version there is.
    const conflicting =
      info.detail === undefined ? undefined : STREAM_VERSION_DETAIL.exec(info.detail);
    const actualVersion =
      conflicting === null || conflicting === undefined ? 0 : Number(conflicting[1]);
    return { status: 'versionConflict', actualVersion, cause: error };
  }
  return undefined;
}

/**
 * Throws when the caller gave the transaction up (core has told the caller so already).
 * @internal
 */
export function throwIfGivenUp(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) {
    throw new OperationAbortedError('transaction', { cause: signal.reason });
  }
}
