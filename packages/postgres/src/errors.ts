import {
  DuplicateEventIdError,
  type ExpectedVersion,
  OptimisticConcurrencyError,
  type StreamRef,
} from '@pup/core';
import type { PostgresDriver } from './driver.js';
import type { PostgresTables } from './schema.js';

const UNIQUE_VIOLATION = '23505';
const DUPLICATE_KEY_DETAIL = /^Key \(event_id\)=\(([0-9a-f-]{36})\) already exists/i;
const STREAM_VERSION_DETAIL = /, (\d+)\) already exists/;

/**
 * Turns a unique violation raised by an append into pup's error: a duplicate event id into
 * {@link DuplicateEventIdError}, a duplicate stream version into
 * {@link OptimisticConcurrencyError}. Any other error is returned unchanged.
 * @internal
 */
export function mapAppendError(
  error: unknown,
  driver: PostgresDriver<any>,
  tables: PostgresTables,
  stream: StreamRef,
  expected: ExpectedVersion,
): unknown {
  const info = driver.describeError(error);
  if (info?.code !== UNIQUE_VIOLATION) return error;
  if (info.constraint === tables.eventIdConstraint) {
    const eventId = info.detail === undefined ? undefined : DUPLICATE_KEY_DETAIL.exec(info.detail);
    return new DuplicateEventIdError(eventId?.[1]?.toLowerCase(), { cause: error });
  }
  if (info.constraint === tables.streamVersionConstraint) {
    // Only reachable when the heads table disagrees with the log (rows edited by hand): the
    // conflicting version is the best knowledge of the stream's version we have.
    const conflicting =
      info.detail === undefined ? undefined : STREAM_VERSION_DETAIL.exec(info.detail);
    const actual = conflicting === null || conflicting === undefined ? 0 : Number(conflicting[1]);
    return new OptimisticConcurrencyError(stream, expected, actual, { cause: error });
  }
  return error;
}
