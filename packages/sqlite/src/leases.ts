import type { DeadLetter, ProjectionLease, ProjectionLeases } from '@pup/core';
import type { SqliteDatabase, SqliteStatement } from './driver.js';
import type { QuotedTableNames } from './schema.js';

/** The lease statements on one connection, prepared together on first use. */
export class LeaseStatements {
  readonly read: SqliteStatement;
  readonly get: SqliteStatement;
  readonly save: SqliteStatement;
  readonly delete: SqliteStatement;

  constructor(db: SqliteDatabase, tables: QuotedTableNames) {
    const columns = 'lease_key AS key, owner, epoch, expires_at AS expiresAt';
    this.read = db.prepare(
      `SELECT ${columns} FROM ${tables.leases} WHERE projection_name = ? ORDER BY lease_key`,
    );
    this.get = db.prepare(
      `SELECT ${columns} FROM ${tables.leases} WHERE projection_name = ? AND lease_key = ?`,
    );
    this.save = db.prepare(
      `INSERT INTO ${tables.leases} (projection_name, lease_key, owner, epoch, expires_at) ` +
        'VALUES (?, ?, ?, ?, ?) ON CONFLICT (projection_name, lease_key) DO UPDATE SET ' +
        'owner = excluded.owner, epoch = excluded.epoch, expires_at = excluded.expires_at',
    );
    this.delete = db.prepare(
      `DELETE FROM ${tables.leases} WHERE projection_name = ? AND lease_key = ?`,
    );
  }
}

function toLease(row: unknown): ProjectionLease {
  const r = row as { key: string; owner: string | null; epoch: number; expiresAt: number };
  return { key: r.key, owner: r.owner, epoch: Number(r.epoch), expiresAt: Number(r.expiresAt) };
}

/**
 * Every lease row of a projection and the clock. No lock is taken: SQLite has one writer at a
 * time, and store transactions run `BEGIN IMMEDIATE`, which holds the write lock already.
 */
export function readLeases(statements: LeaseStatements, projectionName: string): ProjectionLeases {
  return { now: Date.now(), leases: statements.read.all(projectionName).map(toLease) };
}

/** One lease row of a projection, or `null`. */
export function getLease(
  statements: LeaseStatements,
  projectionName: string,
  key: string,
): ProjectionLease | null {
  const row = statements.get.get(projectionName, key);
  return row === undefined ? null : toLease(row);
}

/** Inserts or overwrites one lease row. */
export function saveLease(
  statements: LeaseStatements,
  projectionName: string,
  lease: ProjectionLease,
): void {
  statements.save.run(projectionName, lease.key, lease.owner, lease.epoch, lease.expiresAt);
}

/** Deletes one lease row. */
export function deleteLease(
  statements: LeaseStatements,
  projectionName: string,
  key: string,
): void {
  statements.delete.run(projectionName, key);
}

/** The dead-letter statements on one connection, prepared together on first use. */
export class DeadLetterStatements {
  readonly save: SqliteStatement;
  readonly list: SqliteStatement;
  readonly delete: SqliteStatement;

  constructor(db: SqliteDatabase, tables: QuotedTableNames) {
    this.save = db.prepare(
      `INSERT INTO ${tables.deadLetters} (projection_name, global_position, checkpoint, error, failed_at) ` +
        'VALUES (?, ?, ?, ?, ?) ON CONFLICT (projection_name, global_position) DO UPDATE SET ' +
        'checkpoint = excluded.checkpoint, error = excluded.error, failed_at = excluded.failed_at',
    );
    this.list = db.prepare(
      'SELECT projection_name AS projectionName, global_position AS globalPosition, checkpoint, ' +
        `error, failed_at AS failedAt FROM ${tables.deadLetters} WHERE projection_name = ? ` +
        'ORDER BY global_position',
    );
    this.delete = db.prepare(
      `DELETE FROM ${tables.deadLetters} WHERE projection_name = ? AND global_position = ?`,
    );
  }
}

/** Inserts or overwrites a dead letter. */
export function saveDeadLetter(statements: DeadLetterStatements, deadLetter: DeadLetter): void {
  statements.save.run(
    deadLetter.projectionName,
    deadLetter.globalPosition,
    deadLetter.checkpoint,
    deadLetter.error,
    deadLetter.failedAt,
  );
}

/** The dead letters of a projection, by global position. */
export function listDeadLetters(
  statements: DeadLetterStatements,
  projectionName: string,
): DeadLetter[] {
  return statements.list.all(projectionName).map((row) => {
    const r = row as DeadLetter;
    return { ...r, globalPosition: Number(r.globalPosition), failedAt: Number(r.failedAt) };
  });
}

/**
 * Deletes a dead letter; returns whether there was one. No lock is needed: a store transaction
 * holds the database's write lock already.
 */
export function deleteDeadLetter(
  statements: DeadLetterStatements,
  projectionName: string,
  globalPosition: number,
): boolean {
  return statements.delete.run(projectionName, globalPosition).changes > 0;
}
