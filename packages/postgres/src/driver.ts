import { createHash } from 'node:crypto';
import type { CommitListener, CommitListenerHandlers } from '@pup/core/adapter';

/** The database's name in errors and logs. @internal */
export const DATABASE = 'PostgreSQL';

/**
 * A SQL statement with fixed text. Drivers prepare it once per connection under `name` (pg) or
 * by its text (postgres.js), so the hot path skips parsing and planning.
 * @internal
 */
export interface Statement {
  readonly name: string;
  readonly text: string;
}

/** Builds a {@link Statement} named after a hash of its text. @internal */
export function statement(text: string): Statement {
  const digest = createHash('sha1').update(text).digest('hex').slice(0, 24);
  return { name: `pup_${digest}`, text };
}

/** A statement and its parameters, for {@link PostgresDriver.pipeline}. @internal */
export type PipelinedQuery = readonly [statement: Statement, params: readonly unknown[]];

/** Options of {@link PostgresDriver.transaction}. @internal */
export interface DriverTransactionOptions {
  /**
   * Asked once, after `fn` resolved: a channel to notify right after the COMMIT, in the same
   * round trip, by a driver that can (see {@link PostgresDriver.notifiesWithCommit}).
   */
  notifyOnCommit?: (() => string | undefined) | undefined;
  /**
   * Aborts when the caller gave the transaction up (core has rejected the caller already). The
   * transaction must then never commit, and a statement it is stalled in should stop waiting.
   */
  signal?: AbortSignal | undefined;
}

/** The parts of a database error pup maps to its own errors. @internal */
export interface DatabaseErrorInfo {
  /** SQLSTATE, such as `23505`. */
  code: string | undefined;
  /** Name of the violated constraint, when the database reported one. */
  constraint: string | undefined;
  /** The error's detail line. */
  detail: string | undefined;
  /** The connection is gone (the transaction it carried with it). */
  connectionLost: boolean;
}

/**
 * The few calls the dialect needs from a driver; everything else (SQL, append, reads,
 * checkpoints, status) is shared by both drivers. Rows come back as arrays in select-list order,
 * so a driver's column name transforms cannot change what the store reads.
 * @internal
 */
export interface PostgresDriver<Tx> {
  /** Whether `tx` looks like a handle of this driver (a cheap shape check). */
  isTransaction(tx: unknown): boolean;
  /** Runs a prepared statement inside the caller's transaction. */
  query(tx: Tx, statement: Statement, params: readonly unknown[]): Promise<unknown[][]>;
  /**
   * Runs prepared statements one after the other inside the caller's transaction and returns
   * their rows. A driver that pipelines (postgres.js) sends them all at once, in one round trip;
   * the server still runs each only after the previous one, with its own snapshot.
   */
  pipeline(tx: Tx, queries: readonly PipelinedQuery[]): Promise<unknown[][][]>;
  /** Runs a prepared statement on any connection of the pool, outside a transaction. */
  queryPool(statement: Statement, params: readonly unknown[]): Promise<unknown[][]>;
  /** Runs several statements without parameters (the schema) inside a transaction. */
  script(tx: Tx, sql: string): Promise<void>;
  /**
   * Runs `fn` in a transaction on a connection of the pool.
   * @throws {DatabaseError} when PostgreSQL rolled the transaction back at COMMIT (a statement
   * had failed and its error was caught).
   * @throws {ConnectionLostError} with `commitUnknown` when the connection was lost after COMMIT
   * was sent.
   */
  transaction<T>(fn: (tx: Tx) => Promise<T>, options?: DriverTransactionOptions): Promise<T>;
  /** Whether `transaction` honours {@link DriverTransactionOptions.notifyOnCommit}. */
  readonly notifiesWithCommit: boolean;
  /**
   * Runs `fn` inside a savepoint of the open transaction `tx`, on its connection: released when
   * `fn` resolves; rolled back to when it rejects, rethrowing the very error. Statements the
   * store runs with `tx` meanwhile belong to the savepoint.
   */
  savepoint<T>(tx: Tx, name: string, fn: () => Promise<T>): Promise<T>;
  /** Starts listening on `channel` on a dedicated connection. */
  listen(channel: string, handlers: CommitListenerHandlers): Promise<CommitListener>;
  /**
   * Reads SQLSTATE, constraint and detail from a driver error, and whether it means a lost
   * connection; `undefined` for errors that are neither the server's nor the connection's.
   */
  describeError(error: unknown): DatabaseErrorInfo | undefined;
}

/** Quotes a checked identifier such as a channel name (no double quotes can occur in it). @internal */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
