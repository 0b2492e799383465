import type { AppendOutcome } from '@pup/core/adapter';
import type { PostgresDriver } from './driver.js';
import type { PostgresTables } from './schema.js';

const UNIQUE_VIOLATION = '23505';
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
