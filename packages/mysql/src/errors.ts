import { ConnectionLostError, DatabaseError, type PupError } from '@pup/core';
import { DATABASE } from './driver.js';

/** The fields of a mysql2 error pup looks at. */
interface DriverError {
  code?: unknown;
  errno?: unknown;
  fatal?: unknown;
  message?: unknown;
}

/** `ER_DUP_ENTRY`: a unique key was violated. @internal */
export const ER_DUP_ENTRY = 1062;
/** `ER_LOCK_DEADLOCK`: InnoDB rolled the whole transaction back. @internal */
export const ER_LOCK_DEADLOCK = 1213;
/** `ER_NO_SUCH_TABLE`. @internal */
export const ER_NO_SUCH_TABLE = 1146;

/** Server errors a new attempt of the whole transaction may not meet again. */
const TRANSIENT_ERRNOS = new Set([
  1205, // ER_LOCK_WAIT_TIMEOUT
  1213, // ER_LOCK_DEADLOCK
  1180, // ER_ERROR_DURING_COMMIT (a storage engine error at commit, often transient)
  3572, // ER_LOCK_NOWAIT (MySQL)
]);

/** Server errors that end the session. */
const CONNECTION_ERRNOS = new Set([
  1053, // ER_SERVER_SHUTDOWN
  1927, // ER_CONNECTION_KILLED (MariaDB)
  2006, // CR_SERVER_GONE_ERROR
  2013, // CR_SERVER_LOST
  4031, // ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8.0.24+)
]);

/** Client-side codes of mysql2 and Node.js that mean the connection is gone. */
const CONNECTION_CODES = new Set([
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
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

function fieldsOf(error: unknown): DriverError | undefined {
  return typeof error === 'object' && error !== null ? (error as DriverError) : undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The server error number of a driver error, if it has one. @internal */
export function errnoOf(error: unknown): number | undefined {
  const errno = fieldsOf(error)?.errno;
  return typeof errno === 'number' ? errno : undefined;
}

/** Whether a driver error means the connection (and its transaction) is gone. @internal */
export function isConnectionLoss(error: unknown): boolean {
  const fields = fieldsOf(error);
  if (fields === undefined) return false;
  if (typeof fields.code === 'string' && CONNECTION_CODES.has(fields.code)) return true;
  const errno = errnoOf(error);
  if (errno !== undefined && CONNECTION_ERRNOS.has(errno)) return true;
  return fields.fatal === true;
}

/** Whether a driver error is a deadlock or a lock wait timeout. @internal */
export function isTransient(error: unknown): boolean {
  const errno = errnoOf(error);
  return errno !== undefined && TRANSIENT_ERRNOS.has(errno);
}

/**
 * The pup error a driver error stands for, when pup has a more precise one than a plain
 * `DatabaseError`: `ConnectionLostError` for a lost connection (`commitUnknown` when the COMMIT
 * may have reached the server), a transient `DatabaseError` for deadlocks and lock wait timeouts,
 * a `DatabaseError` naming `migrate()` for a missing table. `undefined` otherwise.
 * @internal
 */
export function describeMysqlError(error: unknown, commitUnknown = false): PupError | undefined {
  if (isConnectionLoss(error)) {
    return new ConnectionLostError(
      DATABASE,
      commitUnknown
        ? `the connection was lost after COMMIT was sent, so the transaction may have committed: ${messageOf(error)}`
        : `the connection was lost: ${messageOf(error)}`,
      { cause: error, commitUnknown },
    );
  }
  if (isTransient(error)) {
    return new DatabaseError(DATABASE, messageOf(error), { cause: error, transient: true });
  }
  if (errnoOf(error) === ER_NO_SUCH_TABLE) {
    return new DatabaseError(DATABASE, `${messageOf(error)} (has migrate() run?)`, {
      cause: error,
    });
  }
  return undefined;
}

/** Which unique key a duplicate-entry error names. @internal */
export function duplicateKeyOf(error: unknown): string | undefined {
  if (errnoOf(error) !== ER_DUP_ENTRY) return undefined;
  const message = fieldsOf(error)?.message;
  if (typeof message !== 'string') return undefined;
  // MySQL 8 says `for key 'table.key'`, MariaDB `for key 'key'`.
  const match = /for key '(?:[^']*\.)?([^'.]+)'$/.exec(message);
  return match?.[1];
}

/** The server is older than the adapter needs (`SKIP LOCKED`: MySQL 8.0.1+, MariaDB 10.6+). */
export class MysqlServerVersionError extends DatabaseError {
  /** What `VERSION()` returned. */
  readonly serverVersion: string;

  constructor(serverVersion: string) {
    super(
      DATABASE,
      `server ${serverVersion} is not supported: @pup/mysql needs MySQL 8.0.1+ or MariaDB 10.6+ (SELECT … FOR UPDATE SKIP LOCKED)`,
    );
    this.serverVersion = serverVersion;
  }
}
