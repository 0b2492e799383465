/**
 * The result of running a write statement, as better-sqlite3 reports it.
 */
export interface SqliteRunResult {
  /** Rows changed directly by the statement (not by triggers). */
  changes: number;
  /** Rowid of the last row the statement inserted. */
  lastInsertRowid: number | bigint;
}

/**
 * The part of a better-sqlite3 `Statement` the store uses. Described structurally so the package
 * never loads the driver itself and needs no `@types/better-sqlite3` at run time.
 */
export interface SqliteStatement {
  run(...params: unknown[]): SqliteRunResult;
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  pluck(toggleState?: boolean): this;
  raw(toggleState?: boolean): this;
}

/**
 * The part of a better-sqlite3 `Database` the store uses. Any `Database` from better-sqlite3 12
 * fits; the store's transaction handle is that very `Database`.
 */
export interface SqliteDatabase {
  /** Whether the database lives in memory (`:memory:` or an empty file name). */
  readonly memory: boolean;
  /** Whether the connection was opened read-only. */
  readonly readonly: boolean;
  /** Whether the connection is open. */
  readonly open: boolean;
  /** Whether a transaction is open on the connection. */
  readonly inTransaction: boolean;
  prepare(source: string): SqliteStatement;
  exec(source: string): unknown;
  pragma(source: string, options?: { simple?: boolean }): unknown;
}
