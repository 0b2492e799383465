import {
  type Checkpoint,
  type GetCheckpointOptions,
  validateCheckpoint,
  validateProjectionName,
} from '@pup/core';
import { parseCheckpoint } from './checkpoint-token.js';
import { type PostgresDriver, type Statement, statement } from './driver.js';
import type { PostgresTables } from './schema.js';

/** Turns off the WAL flush wait of the current transaction's commit (`asyncProjectionCommit`). */
export const ASYNC_COMMIT = `set_config('synchronous_commit', 'off', true)`;

/** The statements of the checkpoints table. @internal */
export interface CheckpointStatements {
  get: Statement;
  /** Reads the checkpoint row and locks it until the transaction ends. */
  lockRow: Statement;
  /** The lock of a projection that has no checkpoint row yet. */
  lock: Statement;
  /** Names the checkpoints table in the lock key, so two stores on one server do not collide. */
  lockScope: string;
  save: Statement;
}

/** @internal */
export function checkpointStatements(
  t: PostgresTables,
  asyncCommit: boolean,
): CheckpointStatements {
  return {
    get: statement(`SELECT checkpoint FROM ${t.checkpoints} WHERE projection_name = $1::text`),
    // FOR NO KEY UPDATE waits for a worker holding the row and then returns the row that worker
    // committed (READ COMMITTED rechecks the newest version), so one round trip both locks and
    // reads. With `asyncProjectionCommit` the same statement turns off the commit's WAL flush
    // wait for this transaction only (`set_config(…, true)` is `SET LOCAL`).
    lockRow: statement(`SELECT checkpoint${asyncCommit ? `, ${ASYNC_COMMIT}` : ''}
FROM ${t.checkpoints} WHERE projection_name = $1::text
FOR NO KEY UPDATE`),
    // A projection without a row: a transaction-scoped advisory lock keyed by the checkpoints
    // table and the projection name stands in for the row lock until its first checkpoint is
    // committed (every worker that finds no row takes it, then looks for the row again).
    lock: statement(
      `SELECT pg_advisory_xact_lock(hashtextextended($2::text || '/' || $1::text, 0))${
        asyncCommit ? `, ${ASYNC_COMMIT}` : ''
      }`,
    ),
    lockScope: t.checkpoints,
    save: statement(`INSERT INTO ${t.checkpoints} AS c (projection_name, checkpoint)
VALUES ($1::text, $2::text)
ON CONFLICT (projection_name) DO UPDATE SET checkpoint = excluded.checkpoint, updated_at = now()`),
  };
}

/** The saved checkpoint of a projection, or `null`. @internal */
export async function getCheckpoint<Tx>(
  driver: PostgresDriver<Tx>,
  statements: CheckpointStatements,
  tx: Tx,
  projectionName: string,
  options?: GetCheckpointOptions,
): Promise<Checkpoint | null> {
  const name = validateProjectionName(projectionName);
  if (options?.lock === true) return lockCheckpoint(driver, statements, tx, name);
  const rows = await driver.query(tx, statements.get, [name]);
  return rows.length === 0 ? null : (rows[0]![0] as string);
}

/**
 * Locks a projection's checkpoint until the transaction ends and reads it. Workers of one
 * projection exclude each other through the row lock once the row exists, and through the
 * advisory lock before: a worker that finds no row takes the advisory lock and looks again (its
 * own statement, so under READ COMMITTED it sees a row the previous holder committed meanwhile,
 * and locks it).
 * @internal
 */
export async function lockCheckpoint<Tx>(
  driver: PostgresDriver<Tx>,
  statements: CheckpointStatements,
  tx: Tx,
  name: string,
): Promise<Checkpoint | null> {
  let rows = await driver.query(tx, statements.lockRow, [name]);
  if (rows.length === 0) {
    await lockMissingCheckpoint(driver, statements, tx, name);
    rows = await driver.query(tx, statements.lockRow, [name]);
  }
  return rows.length === 0 ? null : (rows[0]![0] as string);
}

/** Takes the lock that stands in for the row lock of a projection without a row. @internal */
export async function lockMissingCheckpoint<Tx>(
  driver: PostgresDriver<Tx>,
  statements: CheckpointStatements,
  tx: Tx,
  name: string,
): Promise<void> {
  await driver.query(tx, statements.lock, [name, statements.lockScope]);
}

/** Inserts or overwrites the checkpoint of a projection. @internal */
export async function saveCheckpoint<Tx>(
  driver: PostgresDriver<Tx>,
  statements: CheckpointStatements,
  tx: Tx,
  projectionName: string,
  checkpoint: Checkpoint,
): Promise<void> {
  const name = validateProjectionName(projectionName);
  parseCheckpoint(validateCheckpoint(checkpoint));
  await driver.query(tx, statements.save, [name, checkpoint]);
}
