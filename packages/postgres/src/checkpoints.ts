import { type Checkpoint, validateCheckpoint, validateProjectionName } from '@pup/core';
import { parseCheckpoint } from './checkpoint-token.js';
import { type PostgresDriver, type Statement, statement } from './driver.js';
import type { PostgresTables } from './schema.js';

/** The statements of the checkpoints table. @internal */
export interface CheckpointStatements {
  get: Statement;
  save: Statement;
}

/** @internal */
export function checkpointStatements(t: PostgresTables): CheckpointStatements {
  return {
    get: statement(`SELECT checkpoint FROM ${t.checkpoints} WHERE projection_name = $1::text`),
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
): Promise<Checkpoint | null> {
  const rows = await driver.query(tx, statements.get, [validateProjectionName(projectionName)]);
  return rows.length === 0 ? null : (rows[0]![0] as string);
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
