import { ConnectionLostError, InvalidConfigError } from '@pup/core';
import type { CommitListener, CommitListenerHandlers } from '@pup/core/adapter';
import type { DatabaseErrorInfo, PipelinedQuery, PostgresDriver, Statement } from './driver.js';
import { describeDriverError, isConnectionLossCode } from './errors.js';
import { type PostgresEventStoreOptions, resolvePostgresOptions } from './options.js';
import { createPostgresEventStore, type PostgresEventStore } from './store.js';

/** The parts of a postgres.js pending query pup uses. */
export interface PostgresJsPendingQuery extends PromiseLike<unknown> {
  /** Resolves to the rows as arrays in select-list order. */
  values(): PromiseLike<unknown[][]>;
}

/**
 * The parts of a postgres.js `TransactionSql` pup uses, described structurally so
 * `@pup/postgres` never loads `postgres` itself. A real `TransactionSql` fits.
 */
export interface PostgresJsTransactionSql {
  unsafe(
    query: string,
    parameters?: any[],
    options?: { prepare?: boolean },
  ): PostgresJsPendingQuery;
}

/** The parts of a postgres.js `Sql` instance pup uses. A real `postgres()` instance fits. */
export interface PostgresJsSql extends PostgresJsTransactionSql {
  /** Runs `fn` in a transaction on a reserved connection. */
  begin(options: string, fn: (sql: any) => unknown): Promise<unknown>;
  /** Listens on a channel over postgres.js' own listening connection. */
  listen(
    channel: string,
    onNotify: (payload: string) => void,
    onListen?: () => void,
  ): PromiseLike<{ unlisten(): Promise<void> | PromiseLike<void> }>;
}

/** The transaction handle a postgres.js instance hands out: its `TransactionSql`. */
export type PostgresJsTxOf<Sql> = Sql extends {
  begin(options: string, fn: (sql: infer Tx) => any): any;
}
  ? Tx
  : PostgresJsTransactionSql;

/** Codes of the errors postgres.js raises itself when its connection breaks or cannot be made. */
const POSTGRES_JS_CONNECTION_ERRORS = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
]);

/** What postgres.js' `TransactionSql` adds for savepoints (not part of the public shape). */
interface SavepointSql extends PostgresJsTransactionSql {
  savepoint<T>(fn: (sql: SavepointSql) => Promise<T>): Promise<T>;
}

/**
 * The savepoints open on a transaction handle, innermost last, shared by every store of the
 * process: statements the stores run with the handle go to the innermost one's handle.
 */
const openSavepoints = new WeakMap<object, SavepointSql[]>();
/** How many savepoints are open in the process, so the common case skips the lookup. */
let openSavepointCount = 0;

/**
 * Handles of transactions whose connection was lost while their callback still ran. postgres.js
 * 3.4.9 crashes the process when anything is written to such a connection (an uncatchable
 * TypeError in its deferred socket write, porsager/postgres#1208), so the store sends nothing
 * more on them: its statements fail with a connection error instead, and the transaction's
 * COMMIT or ROLLBACK is never sent (the server has rolled it back already).
 */
const lostTransactions = new WeakSet<object>();
/** Whether any transaction of the process lost its connection, so the common case skips the lookup. */
let anyLostTransaction = false;

/** The error a statement gets on a transaction whose connection was lost. */
function lostConnectionError(): Error {
  return Object.assign(new Error('the connection of this transaction was lost'), {
    code: 'CONNECTION_CLOSED',
  });
}

/**
 * The handle statements given `tx` must run on: the innermost open savepoint's, or `tx`.
 * @throws a connection error when the transaction's connection was lost.
 */
function current<Tx extends PostgresJsTransactionSql>(tx: Tx): PostgresJsTransactionSql {
  if (anyLostTransaction && lostTransactions.has(tx)) throw lostConnectionError();
  if (openSavepointCount === 0) return tx;
  const open = openSavepoints.get(tx);
  return open === undefined ? tx : open[open.length - 1]!;
}

const NO_ERROR = Symbol('no error');

class PostgresJsDriver<Tx extends PostgresJsTransactionSql> implements PostgresDriver<Tx> {
  /** `sql.begin` sends its own COMMIT: notifications follow it from the pool. */
  readonly notifiesWithCommit = false;

  constructor(private readonly sql: PostgresJsSql) {}

  isTransaction(tx: unknown): boolean {
    return (
      (typeof tx === 'function' || (typeof tx === 'object' && tx !== null)) &&
      typeof (tx as { unsafe?: unknown }).unsafe === 'function'
    );
  }

  query(tx: Tx, statement: Statement, params: readonly unknown[]): Promise<unknown[][]> {
    return Promise.resolve(
      current(tx)
        .unsafe(statement.text, params as unknown[], { prepare: true })
        .values(),
    );
  }

  pipeline(tx: Tx, queries: readonly PipelinedQuery[]): Promise<unknown[][][]> {
    // Queries issued together on one connection go out together (postgres.js pipelines them).
    return Promise.all(queries.map(([statement, params]) => this.query(tx, statement, params)));
  }

  queryPool(statement: Statement, params: readonly unknown[]): Promise<unknown[][]> {
    return Promise.resolve(
      this.sql.unsafe(statement.text, params as unknown[], { prepare: true }).values(),
    );
  }

  async script(tx: Tx, sql: string): Promise<void> {
    await current(tx).unsafe(sql);
  }

  async transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    let handle: Tx | undefined;
    let fnError: unknown = NO_ERROR;
    // Set once the callback resolved: postgres.js sends COMMIT next.
    let committing = false;
    // Set when the connection was lost while the callback ran (see lostTransactions).
    let lost = false;
    try {
      // The callback's result is boxed so postgres.js never treats a returned array specially.
      const box = (await this.sql.begin('', async (tx: Tx) => {
        handle = tx;
        let value: T;
        try {
          value = await fn(tx);
        } catch (error) {
          fnError = error;
          if (lost) return new Promise<never>(() => {});
          throw error;
        }
        if (lost) return new Promise<never>(() => {});
        committing = true;
        return { value };
      })) as { value: T };
      return box.value;
    } catch (error) {
      if (error === fnError) throw error;
      const described = describeDriverError(this, error, committing);
      if (described instanceof ConnectionLostError && !committing && handle !== undefined) {
        lost = true;
        lostTransactions.add(handle);
        anyLostTransaction = true;
      }
      throw described ?? error;
    }
  }

  /**
   * postgres.js' own savepoint: it fails a transaction in which any statement failed, unless the
   * statement ran on the handle of a savepoint that was rolled back. So while the savepoint is
   * open, the store's statements given the outer handle run on the savepoint's handle.
   */
  async savepoint<T>(tx: Tx, _name: string, fn: () => Promise<T>): Promise<T> {
    const parent = current(tx) as SavepointSql;
    // The result is boxed so postgres.js never treats a returned array specially.
    const box = await parent.savepoint(async (inner) => {
      let open = openSavepoints.get(tx);
      if (open === undefined) {
        open = [];
        openSavepoints.set(tx, open);
      }
      open.push(inner);
      openSavepointCount++;
      try {
        return { value: await fn() };
      } finally {
        openSavepointCount--;
        open.pop();
        if (open.length === 0) openSavepoints.delete(tx);
      }
    });
    return box.value;
  }

  async listen(channel: string, handlers: CommitListenerHandlers): Promise<CommitListener> {
    let open = true;
    let established = false;
    // postgres.js keeps its own LISTEN connection and re-listens after a drop; each re-listen
    // calls onListen again, and notifications sent meanwhile are lost.
    const meta = await this.sql.listen(
      channel,
      () => {
        if (open) handlers.onCommit();
      },
      () => {
        if (open && established) handlers.onMissed();
        established = true;
      },
    );
    return {
      close: async () => {
        if (!open) return;
        open = false;
        await meta.unlisten();
      },
    };
  }

  describeError(error: unknown): DatabaseErrorInfo | undefined {
    if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
    const e = error as { code?: unknown; constraint_name?: unknown; detail?: unknown };
    const code = typeof e.code === 'string' ? e.code : undefined;
    return {
      code,
      constraint: typeof e.constraint_name === 'string' ? e.constraint_name : undefined,
      detail: typeof e.detail === 'string' ? e.detail : undefined,
      connectionLost:
        isConnectionLossCode(code) ||
        (code !== undefined && POSTGRES_JS_CONNECTION_ERRORS.has(code)),
    };
  }
}

/**
 * Creates an event store on a postgres.js instance. The store's `Tx` is postgres.js'
 * `TransactionSql` (what `sql.begin` hands out): run your own SQL on it in the same transaction
 * as an append. The store never ends the instance.
 *
 * @param sql A `postgres()` instance.
 * @param options Table names, serializer, logger, notifications.
 * @throws {InvalidConfigError} on invalid options, before any SQL runs.
 *
 * @example
 * import postgres from 'postgres';
 * import { ExpectedVersion } from '@pup/core';
 * import { createPostgresJsEventStore } from '@pup/postgres';
 *
 * const sql = postgres(process.env.DATABASE_URL!);
 * const store = createPostgresJsEventStore(sql);
 * await store.migrate();
 * await store.transaction(async (tx) => {
 *   await store.append(tx, ExpectedVersion.noStream(), [
 *     { boundedContext: 'billing', aggregateType: 'Invoice', aggregateId: 'inv-1',
 *       eventType: 'InvoiceIssued', payload: { amount: 42 } },
 *   ]);
 *   await tx`UPDATE invoice_counter SET n = n + 1`;
 * });
 */
export function createPostgresJsEventStore<Sql extends PostgresJsSql>(
  sql: Sql,
  options?: PostgresEventStoreOptions,
): PostgresEventStore<PostgresJsTxOf<Sql>> {
  const resolved = resolvePostgresOptions(options);
  if (typeof sql !== 'function' && (typeof sql !== 'object' || sql === null)) {
    throw new InvalidConfigError('sql', 'must be a postgres.js instance');
  }
  if (typeof sql.begin !== 'function' || typeof sql.unsafe !== 'function') {
    throw new InvalidConfigError('sql', 'must be a postgres.js instance');
  }
  return createPostgresEventStore(
    new PostgresJsDriver<PostgresJsTxOf<Sql> & PostgresJsTransactionSql>(sql),
    sql,
    resolved,
  ) as PostgresEventStore<PostgresJsTxOf<Sql>>;
}
