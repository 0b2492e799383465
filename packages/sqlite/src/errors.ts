/** Which unique constraint of the events table an insert violated. */
export type EventsConstraint = 'eventId' | 'streamVersion';

/**
 * Recognises a better-sqlite3 `SqliteError` for a violated unique constraint of the events table.
 * SQLite names the columns, not the index: `UNIQUE constraint failed: events.event_id`.
 */
export function eventsConstraintOf(error: unknown): EventsConstraint | undefined {
  if (!(error instanceof Error)) return undefined;
  const code = (error as { code?: unknown }).code;
  if (code !== 'SQLITE_CONSTRAINT_UNIQUE' && code !== 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    return undefined;
  }
  if (/\.event_id\b/.test(error.message)) return 'eventId';
  if (/\.aggregate_version\b/.test(error.message)) return 'streamVersion';
  return undefined;
}

/**
 * Whether a better-sqlite3 error says that another connection holds a lock the statement needs
 * (`SQLITE_BUSY` and its extended codes).
 */
export function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}
