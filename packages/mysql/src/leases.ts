import type { DeadLetter, ProjectionLease, ProjectionLeases } from '@pup/core';
import { type MysqlPoolConnection, run, selectRows, toNumber } from './driver.js';
import { bytes } from './read.js';
import type { MysqlTables } from './schema.js';

const COLUMNS = 'lease_key, owner, epoch, expires_at';

function text(value: unknown): string {
  return Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
}

function toLease(row: unknown[]): ProjectionLease {
  return {
    key: text(row[0]),
    owner: row[1] === null ? null : text(row[1]),
    epoch: toNumber(row[2]),
    expiresAt: toNumber(row[3]),
  };
}

/**
 * Every lease row of a projection, locked until the transaction ends (in key order), and the
 * database's clock. @internal
 */
export async function readLeases(
  conn: MysqlPoolConnection,
  t: MysqlTables,
  projectionName: string,
): Promise<ProjectionLeases> {
  const rows = await selectRows(
    conn,
    `SELECT ${COLUMNS} FROM ${t.leases} WHERE projection_name = ? ORDER BY lease_key FOR UPDATE`,
    [bytes(projectionName)],
  );
  const [clock] = await selectRows(
    conn,
    'SELECT CAST(UNIX_TIMESTAMP(CURRENT_TIMESTAMP(3)) * 1000 AS SIGNED)',
  );
  return { now: toNumber(clock![0]), leases: rows.map(toLease) };
}

/** One lease row, locked until the transaction ends, or `null`. @internal */
export async function lockLease(
  conn: MysqlPoolConnection,
  t: MysqlTables,
  projectionName: string,
  key: string,
): Promise<ProjectionLease | null> {
  const rows = await selectRows(
    conn,
    `SELECT ${COLUMNS} FROM ${t.leases} WHERE projection_name = ? AND lease_key = ? FOR UPDATE`,
    [bytes(projectionName), bytes(key)],
  );
  return rows[0] === undefined ? null : toLease(rows[0]);
}

/** Inserts or overwrites one lease row. @internal */
export async function saveLease(
  conn: MysqlPoolConnection,
  t: MysqlTables,
  projectionName: string,
  lease: ProjectionLease,
): Promise<void> {
  const owner = lease.owner === null ? null : bytes(lease.owner);
  await run(
    conn,
    `INSERT INTO ${t.leases} (projection_name, lease_key, owner, epoch, expires_at)
     VALUES (?, ?, ?, ?, ?)
     ON DUPLICATE KEY UPDATE owner = ?, epoch = ?, expires_at = ?`,
    [
      bytes(projectionName),
      bytes(lease.key),
      owner,
      lease.epoch,
      lease.expiresAt,
      owner,
      lease.epoch,
      lease.expiresAt,
    ],
  );
}

/** Deletes one lease row. @internal */
export async function deleteLease(
  conn: MysqlPoolConnection,
  t: MysqlTables,
  projectionName: string,
  key: string,
): Promise<void> {
  await run(conn, `DELETE FROM ${t.leases} WHERE projection_name = ? AND lease_key = ?`, [
    bytes(projectionName),
    bytes(key),
  ]);
}

/** Inserts or overwrites a dead letter. @internal */
export async function saveDeadLetter(
  conn: MysqlPoolConnection,
  t: MysqlTables,
  deadLetter: DeadLetter,
): Promise<void> {
  await run(
    conn,
    `INSERT INTO ${t.deadLetters} (projection_name, global_position, checkpoint, error, failed_at)
     VALUES (?, ?, ?, ?, ?)
     ON DUPLICATE KEY UPDATE checkpoint = ?, error = ?, failed_at = ?`,
    [
      bytes(deadLetter.projectionName),
      deadLetter.globalPosition,
      deadLetter.checkpoint,
      deadLetter.error,
      deadLetter.failedAt,
      deadLetter.checkpoint,
      deadLetter.error,
      deadLetter.failedAt,
    ],
  );
}

/** The dead letters of a projection, by global position. @internal */
export async function listDeadLetters(
  conn: MysqlPoolConnection,
  t: MysqlTables,
  projectionName: string,
): Promise<DeadLetter[]> {
  const rows = await selectRows(
    conn,
    `SELECT projection_name, global_position, checkpoint, error, failed_at FROM ${t.deadLetters}
     WHERE projection_name = ? ORDER BY global_position`,
    [bytes(projectionName)],
  );
  return rows.map((row) => ({
    projectionName: text(row[0]),
    globalPosition: toNumber(row[1]),
    checkpoint: text(row[2]),
    error: text(row[3]),
    failedAt: toNumber(row[4]),
  }));
}

/**
 * Deletes a dead letter; returns whether there was one. The deleted row stays locked until the
 * transaction ends: a concurrent delete of it waits, then deletes nothing once this one commits.
 * @internal
 */
export async function deleteDeadLetter(
  conn: MysqlPoolConnection,
  t: MysqlTables,
  projectionName: string,
  globalPosition: number,
): Promise<boolean> {
  const header = await run(
    conn,
    `DELETE FROM ${t.deadLetters} WHERE projection_name = ? AND global_position = ?`,
    [bytes(projectionName), globalPosition],
  );
  return header.affectedRows > 0;
}
