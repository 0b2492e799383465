import type { Checkpoint } from '@pup/core';
import type { SqliteDatabase, SqliteStatement } from './driver.js';
import type { QuotedTableNames } from './schema.js';

/** The checkpoint statements on one connection, prepared together on first use. */
export class CheckpointStatements {
  readonly get: SqliteStatement;
  readonly save: SqliteStatement;
  readonly delete: SqliteStatement;
  readonly list: SqliteStatement;

  constructor(db: SqliteDatabase, tables: QuotedTableNames) {
    this.get = db
      .prepare(`SELECT checkpoint FROM ${tables.checkpoints} WHERE projection_name = ?`)
      .pluck();
    this.save = db.prepare(
      `INSERT INTO ${tables.checkpoints} (projection_name, checkpoint, updated_at) ` +
        'VALUES (?, ?, ?) ON CONFLICT (projection_name) DO UPDATE SET ' +
        'checkpoint = excluded.checkpoint, updated_at = excluded.updated_at',
    );
    this.delete = db.prepare(`DELETE FROM ${tables.checkpoints} WHERE projection_name = ?`);
    this.list = db.prepare(`SELECT projection_name, checkpoint FROM ${tables.checkpoints}`).raw();
  }
}

/**
 * The saved checkpoint of a projection, or `null`. No lock is taken: SQLite has one writer at a
 * time, and a projection batch runs in a `BEGIN IMMEDIATE` transaction, which already holds the
 * write lock of the database.
 */
export function getCheckpoint(
  statements: CheckpointStatements,
  projectionName: string,
): Checkpoint | null {
  const checkpoint = statements.get.get(projectionName);
  return typeof checkpoint === 'string' ? checkpoint : null;
}

/** Inserts or overwrites the checkpoint of a projection, stamped with the current time. */
export function saveCheckpoint(
  statements: CheckpointStatements,
  projectionName: string,
  checkpoint: Checkpoint,
): void {
  statements.save.run(projectionName, checkpoint, Date.now());
}

/** Deletes the checkpoint of a projection; returns whether there was one. */
export function deleteCheckpoint(
  statements: CheckpointStatements,
  projectionName: string,
): boolean {
  return statements.delete.run(projectionName).changes > 0;
}

/** Every saved checkpoint. */
export function listCheckpoints(
  statements: CheckpointStatements,
): { projectionName: string; checkpoint: Checkpoint }[] {
  return (statements.list.all() as [string, string][]).map(([projectionName, checkpoint]) => ({
    projectionName,
    checkpoint,
  }));
}
