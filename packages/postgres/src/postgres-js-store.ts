import {
  ConnectionLostError,
  type DomainEvent,
  type EventStoreOptions,
  InvalidConfigError,
} from '@pup/core';
import type { CommitListener, CommitListenerHandlers } from '@pup/core/adapter';
import type {
  DatabaseErrorInfo,
  DriverTransactionOptions,
  PipelinedQuery,
  PostgresDriver,
  Statement,
} from './driver.js';
import { describeDriverError, isConnectionLossCode, throwIfGivenUp } from './errors.js';
import { type PostgresEventStoreOptions, resolvePostgresOptions } from './options.js';
import { createPostgresEventStore, type PostgresEventStore } from './store.js';

/** The parts of a postgres.js pending query pup uses. */
export interface PostgresJsPendingQuery extends PromiseLike<unknown> {
  /** Resolves to the rows as arrays in select-list order. */
  values(): PromiseLike<unknown[][]>;
  /** Cancels the query (used when the caller gives its transaction up). */
  cancel?(): unknown;
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
 * process: statements the stores run with the handle go to the innermost one's handle (also one
 * that the outer level runs concurrently with the savepoint: core queues savepoints of one level,
 * not the outer level's own calls).
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

/**
 * The store's statements in flight on transactions the caller can give up (those with a signal),
 * by handle: giving the transaction up cancels them.
 */
const inFlight = new WeakMap<object, Set<PostgresJsPendingQuery>>();
/** How many such transactions run, so the common case skips the lookup. */
let watchedTransactions = 0;

/** Records `query` as in flight on `tx` when the caller can give `tx` up. */
function watch(tx: object, query: PostgresJsPendingQuery): void {
  const queries = inFlight.get(tx);
  if (queries === undefined) return;
  queries.add(query);
  const settled = (): void => {
    queries.delete(query);
  };
  query.then(settled, settled);
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
    const query = current(tx).unsafe(statement.text, params as unknown[], { prepare: true });
    const rows = query.values();
    if (watchedTransactions > 0) watch(tx, query);
    return Promise.resolve(rows);
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

  async transaction<T>(
    fn: (tx: Tx) => Promise<T>,
    options: DriverTransactionOptions = {},
  ): Promise<T> {
    const { signal } = options;
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
        throwIfGivenUp(signal);
        const value = await (signal === undefined ? callback(tx) : givingUp(tx, signal));
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

    async function callback(tx: Tx): Promise<T> {
      try {
        return await fn(tx);
      } catch (error) {
        fnError = error;
        // After a lost connection postgres.js must not send the ROLLBACK (see lostTransactions).
        if (lost) return new Promise<never>(() => {});
        throw error;
      }
    }

    /**
     * The callback of a transaction the caller can give up: giving up cancels the store's
     * statements in flight (a statement stalled on a lock stops waiting), and a callback that
     * resolves afterwards is rolled back, not committed.
     */
    async function givingUp(tx: Tx, signal: AbortSignal): Promise<T> {
      const queries = new Set<PostgresJsPendingQuery>();
      const cancel = (): void => {
        for (const query of queries) query.cancel?.();
      };
      inFlight.set(tx, queries);
      watchedTransactions++;
      signal.addEventListener('abort', cancel, { once: true });
      try {
        const value = await callback(tx);
        throwIfGivenUp(signal);
        return value;
      } finally {
        signal.removeEventListener('abort', cancel);
        watchedTransactions--;
        inFlight.delete(tx);
      }
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
 * @param options Table names, serializer, logger, notifications, event rules.
 * @typeParam E The store's events (see `DomainEvent` in `@pup/core`): `append` then accepts only
 * known `eventType`/`payload` pairs and reads narrow `payload` by `eventType`. Given explicitly,
 * `Sql` falls back to the structural `PostgresJsSql`; name it too to keep postgres.js'
 * `TransactionSql` type: `createPostgresJsEventStore<BankEvent, typeof sql>(sql)`.
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
export function createPostgresJsEventStore<
  E extends object = DomainEvent,
  Sql extends PostgresJsSql = PostgresJsSql,
>(
  sql: Sql,
  options?: PostgresEventStoreOptions & EventStoreOptions<E>,
): PostgresEventStore<PostgresJsTxOf<Sql>, E> {
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
  ) as PostgresEventStore<PostgresJsTxOf<Sql>, E>;
}
