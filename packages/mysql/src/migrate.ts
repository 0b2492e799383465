import { createHash } from 'node:crypto';
import { DatabaseError, SchemaVersionError } from '@pup/core';
import { DATABASE, type MysqlPool, run, selectRows, toNumber } from './driver.js';
import { ER_NO_SUCH_TABLE, errnoOf, MysqlServerVersionError } from './errors.js';
import { type MysqlTables, SCHEMA_VERSION, schemaStatements } from './schema.js';

/** How long `migrate()` waits for another process's migration of the same store, in seconds. */
const MIGRATE_LOCK_TIMEOUT_S = 60;

/** Whether a `VERSION()` string names a server with `SKIP LOCKED` (MySQL 8.0.1+, MariaDB 10.6+). */
export function supportsSkipLocked(version: string): boolean {
  const match = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (match === null) return true;
  const [major, minor, patch] = match.slice(1).map(Number) as [number, number, number];
  if (/mariadb/i.test(version)) return major > 10 || (major === 10 && minor >= 6);
  return major > 8 || (major === 8 && (minor > 0 || patch >= 1));
}

/**
 * Applies the schema statement by statement on one connection, holding a named lock (GET_LOCK)
 * for the store's events table so that processes migrating at once take turns. Refuses a schema
 * newer than this package knows, and a server without `SKIP LOCKED`. @internal
 */
export async function migrate(pool: MysqlPool, t: MysqlTables): Promise<void> {
  const conn = await pool.getConnection();
  try {
    const [versionRow] = await selectRows(conn, 'SELECT VERSION(), DATABASE()');
    const serverVersion = String(versionRow![0]);
    if (!supportsSkipLocked(serverVersion)) throw new MysqlServerVersionError(serverVersion);
    const lockName = `pup_migrate_${createHash('sha1')
      .update(`${String(versionRow![1])}/${t.plainEvents}`)
      .digest('hex')}`;
    const [locked] = await selectRows(conn, 'SELECT GET_LOCK(?, ?)', [
      lockName,
      MIGRATE_LOCK_TIMEOUT_S,
    ]);
    if (toNumber(locked![0]) !== 1) {
      throw new DatabaseError(
        DATABASE,
        `another migration of ${t.plainEvents} held its lock for ${MIGRATE_LOCK_TIMEOUT_S} s`,
        { transient: true },
      );
    }
    try {
      let found = 0;
      try {
        const rows = await selectRows(
          conn,
          `SELECT value FROM ${t.meta} WHERE name = 'schema_version'`,
        );
        found = rows[0] === undefined ? 0 : toNumber(rows[0][0]);
      } catch (error) {
        if (errnoOf(error) !== ER_NO_SUCH_TABLE) throw error;
      }
      if (found > SCHEMA_VERSION) throw new SchemaVersionError(DATABASE, found, SCHEMA_VERSION);
      for (const statement of schemaStatements(t)) await run(conn, statement);
    } finally {
      await run(conn, 'DO RELEASE_LOCK(?)', [lockName]).catch(() => undefined);
    }
  } finally {
    conn.release();
  }
}
