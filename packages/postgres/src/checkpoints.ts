import type { Checkpoint } from '@pup/core';
import { type PipelinedQuery, type PostgresDriver, type Statement, statement } from './driver.js';
import type { PostgresTables } from './schema.js';

/** Turns off the WAL flush wait of the current transaction's commit (`asyncProjectionCommit`). */
const ASYNC_COMMIT = `set_config('synchronous_commit', 'off', true)`;

/** The statements of the checkpoints table. @internal */
export interface CheckpointStatements {
  get: Statement;
  /** Takes the projection's lock until the transaction ends. */
  lock: Statement;
  /** Names the checkpoints table in the lock key, so two stores on one server do not collide. */
  lockScope: string;
  save: Statement;
  /** The projection's lock alone (without `asyncProjectionCommit`'s setting). */
  lockOnly: Statement;
  /** Deletes a projection's checkpoint, returning its name when there was one. */
  delete: Statement;
  /** Every saved checkpoint. */
  list: Statement;
}

/** @internal */
export function checkpointStatements(
  t: PostgresTables,
  asyncCommit: boolean,
): CheckpointStatements {
  return {
    get: statement(`SELECT checkpoint FROM ${t.checkpoints} WHERE projection_name = $1::text`),
    // A transaction-scoped advisory lock keyed by the checkpoints table and the projection name:
    // no row needs to exist, and taking it assigns no transaction id, so a batch holds no reader
    // back until it writes (a row lock would, from the batch's first statement on). With
    // `asyncProjectionCommit` the same statement turns off the commit's WAL flush wait for this
    // transaction only (`set_config(…, true)` is `SET LOCAL`).
    lock: statement(
      `SELECT pg_advisory_xact_lock(hashtextextended($2::text || '/' || $1::text, 0))${
        asyncCommit ? `, ${ASYNC_COMMIT}` : ''
      }`,
    ),
    lockScope: t.checkpoints,
    save: statement(`INSERT INTO ${t.checkpoints} AS c (projection_name, checkpoint)
VALUES ($1::text, $2::text)
ON CONFLICT (projection_name) DO UPDATE SET checkpoint = excluded.checkpoint, updated_at = now()`),
    lockOnly: statement(
      `SELECT pg_advisory_xact_lock(hashtextextended($2::text || '/' || $1::text, 0))`,
    ),
    delete: statement(
      `DELETE FROM ${t.checkpoints} WHERE projection_name = $1::text RETURNING projection_name`,
    ),
    list: statement(`SELECT projection_name, checkpoint FROM ${t.checkpoints}`),
  };
}

/**
 * The saved checkpoint of a projection, or `null`. With `lock`, the projection's lock is taken
 * first and held until the transaction ends (one round trip with postgres.js, which pipelines).
 * @internal
 */
export async function getCheckpoint<Tx>(
  driver: PostgresDriver<Tx>,
  statements: CheckpointStatements,
  tx: Tx,
  projectionName: string,
  lock: boolean,
): Promise<Checkpoint | null> {
  const get: PipelinedQuery = [statements.get, [projectionName]];
  const rows = lock
    ? (await driver.pipeline(tx, [lockQuery(statements, projectionName), get]))[1]!
    : await driver.query(tx, get[0], get[1]);
  return rows.length === 0 ? null : (rows[0]![0] as Checkpoint);
}

/**
 * The statement that takes a projection's lock until the transaction ends. It must run on its
 * own, before the reads that follow it: under READ COMMITTED those take their snapshots once it
 * is granted, so they see the checkpoint the previous holder committed. @internal
 */
export function lockQuery(statements: CheckpointStatements, name: string): PipelinedQuery {
  return [statements.lock, [name, statements.lockScope]];
}

/** Inserts or overwrites the checkpoint of a projection. @internal */
export async function saveCheckpoint<Tx>(
  driver: PostgresDriver<Tx>,
  statements: CheckpointStatements,
  tx: Tx,
  projectionName: string,
  checkpoint: Checkpoint,
): Promise<void> {
  await driver.query(tx, statements.save, [projectionName, checkpoint]);
}

/**
 * Deletes a projection's checkpoint after taking its lock, so a batch of that projection running
 * elsewhere finishes first. Returns whether there was one. @internal
 */
export async function deleteCheckpoint<Tx>(
  driver: PostgresDriver<Tx>,
  statements: CheckpointStatements,
  tx: Tx,
  projectionName: string,
): Promise<boolean> {
  const [, rows] = await driver.pipeline(tx, [
    [statements.lockOnly, [projectionName, statements.lockScope]],
    [statements.delete, [projectionName]],
  ]);
  return rows!.length > 0;
}

/** Every saved checkpoint. @internal */
export async function listCheckpoints<Tx>(
  driver: PostgresDriver<Tx>,
  statements: CheckpointStatements,
  tx: Tx,
): Promise<{ projectionName: string; checkpoint: Checkpoint }[]> {
  const rows = await driver.query(tx, statements.list, []);
  return rows.map((row) => ({
    projectionName: row[0] as string,
    checkpoint: row[1] as Checkpoint,
  }));
}
