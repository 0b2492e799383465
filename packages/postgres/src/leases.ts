import type { DeadLetter, ProjectionLease, ProjectionLeases } from '@pup/core';
import { type PostgresDriver, type Statement, statement } from './driver.js';
import type { PostgresTables } from './schema.js';

/** The statements of the lease table. @internal */
export interface LeaseStatements {
  /** The database's clock in milliseconds since the epoch. */
  now: Statement;
  /** Every lease row of a projection, locked. */
  read: Statement;
  /** One lease row, locked. */
  lock: Statement;
  save: Statement;
  delete: Statement;
  saveDeadLetter: Statement;
  listDeadLetters: Statement;
  /** Deletes one dead letter, returning its position when there was one. */
  deleteDeadLetter: Statement;
}

const COLUMNS = 'lease_key, owner, epoch::text, expires_at::text';

/** @internal */
export function leaseStatements(t: PostgresTables): LeaseStatements {
  return {
    now: statement(`SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint::text`),
    read: statement(
      `SELECT ${COLUMNS} FROM ${t.leases} WHERE projection_name = $1::text ORDER BY lease_key FOR UPDATE`,
    ),
    lock: statement(
      `SELECT ${COLUMNS} FROM ${t.leases} WHERE projection_name = $1::text AND lease_key = $2::text FOR UPDATE`,
    ),
    save: statement(`INSERT INTO ${t.leases} AS l (projection_name, lease_key, owner, epoch, expires_at)
VALUES ($1::text, $2::text, $3::text, $4::bigint, $5::bigint)
ON CONFLICT (projection_name, lease_key) DO UPDATE
SET owner = excluded.owner, epoch = excluded.epoch, expires_at = excluded.expires_at`),
    delete: statement(
      `DELETE FROM ${t.leases} WHERE projection_name = $1::text AND lease_key = $2::text`,
    ),
    saveDeadLetter: statement(`INSERT INTO ${t.deadLetters} AS d
  (projection_name, global_position, checkpoint, error, failed_at)
VALUES ($1::text, $2::bigint, $3::text, $4::text, $5::bigint)
ON CONFLICT (projection_name, global_position) DO UPDATE
SET checkpoint = excluded.checkpoint, error = excluded.error, failed_at = excluded.failed_at`),
    listDeadLetters: statement(
      `SELECT projection_name, global_position::text, checkpoint, error, failed_at::text FROM ${t.deadLetters} WHERE projection_name = $1::text ORDER BY global_position`,
    ),
    deleteDeadLetter: statement(
      `DELETE FROM ${t.deadLetters} WHERE projection_name = $1::text AND global_position = $2::bigint RETURNING global_position`,
    ),
  };
}

function toLease(row: unknown[]): ProjectionLease {
  return {
    key: row[0] as string,
    owner: (row[1] as string | null) ?? null,
    epoch: Number(row[2]),
    expiresAt: Number(row[3]),
  };
}

/**
 * Every lease row of a projection, locked until the transaction ends (in key order, so workers
 * rebalancing at once take turns without deadlocks), and the database's clock. @internal
 */
export async function readLeases<Tx>(
  driver: PostgresDriver<Tx>,
  statements: LeaseStatements,
  tx: Tx,
  projectionName: string,
): Promise<ProjectionLeases> {
  const [rows, now] = await driver.pipeline(tx, [
    [statements.read, [projectionName]],
    [statements.now, []],
  ]);
  return { now: Number(now![0]![0]), leases: rows!.map(toLease) };
}

/** One lease row, locked until the transaction ends, or `null`. @internal */
export async function lockLease<Tx>(
  driver: PostgresDriver<Tx>,
  statements: LeaseStatements,
  tx: Tx,
  projectionName: string,
  key: string,
): Promise<ProjectionLease | null> {
  const rows = await driver.query(tx, statements.lock, [projectionName, key]);
  return rows.length === 0 ? null : toLease(rows[0]!);
}

/** Inserts or overwrites one lease row. @internal */
export async function saveLease<Tx>(
  driver: PostgresDriver<Tx>,
  statements: LeaseStatements,
  tx: Tx,
  projectionName: string,
  lease: ProjectionLease,
): Promise<void> {
  await driver.query(tx, statements.save, [
    projectionName,
    lease.key,
    lease.owner,
    String(lease.epoch),
    String(lease.expiresAt),
  ]);
}

/** Deletes one lease row. @internal */
export async function deleteLease<Tx>(
  driver: PostgresDriver<Tx>,
  statements: LeaseStatements,
  tx: Tx,
  projectionName: string,
  key: string,
): Promise<void> {
  await driver.query(tx, statements.delete, [projectionName, key]);
}

/** Inserts or overwrites a dead letter. @internal */
export async function saveDeadLetter<Tx>(
  driver: PostgresDriver<Tx>,
  statements: LeaseStatements,
  tx: Tx,
  deadLetter: DeadLetter,
): Promise<void> {
  await driver.query(tx, statements.saveDeadLetter, [
    deadLetter.projectionName,
    String(deadLetter.globalPosition),
    deadLetter.checkpoint,
    deadLetter.error,
    String(deadLetter.failedAt),
  ]);
}

/** The dead letters of a projection, by global position. @internal */
export async function listDeadLetters<Tx>(
  driver: PostgresDriver<Tx>,
  statements: LeaseStatements,
  tx: Tx,
  projectionName: string,
): Promise<DeadLetter[]> {
  const rows = await driver.query(tx, statements.listDeadLetters, [projectionName]);
  return rows.map((row) => ({
    projectionName: row[0] as string,
    globalPosition: Number(row[1]),
    checkpoint: row[2] as string,
    error: row[3] as string,
    failedAt: Number(row[4]),
  }));
}

/**
 * Deletes a dead letter; returns whether there was one. The deleted row stays locked until the
 * transaction ends: a concurrent delete of it waits, then deletes nothing once this one commits.
 * @internal
 */
export async function deleteDeadLetter<Tx>(
  driver: PostgresDriver<Tx>,
  statements: LeaseStatements,
  tx: Tx,
  projectionName: string,
  globalPosition: number,
): Promise<boolean> {
  const rows = await driver.query(tx, statements.deleteDeadLetter, [
    projectionName,
    String(globalPosition),
  ]);
  return rows.length > 0;
}
