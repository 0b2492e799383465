import {
  DatabaseError,
  type DomainEvent,
  type EventStoreOptions,
  InvalidConfigError,
} from '@pup/core';
import type { CommitListener, CommitListenerHandlers } from '@pup/core/adapter';
import {
  DATABASE,
  type DatabaseErrorInfo,
  type DriverTransactionOptions,
  type PipelinedQuery,
  type PostgresDriver,
  quoteIdentifier,
  type Statement,
} from './driver.js';
import { describeDriverError, isConnectionLossCode, throwIfGivenUp } from './errors.js';
import { type PostgresEventStoreOptions, resolvePostgresOptions } from './options.js';
import { createPostgresEventStore, type PostgresEventStore } from './store.js';

/** The query config pup passes to `pg` (named prepared statements, rows as arrays). */
export interface PgQueryConfig {
  /** The statement's SQL. */
  text: string;
  /** Its parameters. */
  values?: unknown[];
  /** Name of the prepared statement: parsed once per connection. */
  name?: string;
  /** Rows as arrays in select-list order. */
  rowMode?: 'array';
}

/** The parts of a `pg` query result pup reads. */
export interface PgQueryResult {
  /** The rows (arrays with `rowMode: 'array'`). */
  rows: any[];
  /** The command tag, such as `COMMIT` (or `ROLLBACK` for the COMMIT of a failed transaction). */
  command?: string;
}

/**
 * The parts of a `pg` `PoolClient` pup uses, described structurally so `@pup/postgres` never
 * loads `pg` itself. A real `pg.PoolClient` fits.
 */
export interface PgPoolClient {
  /** Runs a (prepared) statement. */
  query(config: PgQueryConfig): Promise<PgQueryResult>;
  /** Runs SQL text without parameters (simple protocol, several statements allowed). */
  query(text: string): Promise<PgQueryResult>;
  /** Gives the client back to the pool; with an error (or `true`) the connection is destroyed. */
  release(error?: Error | boolean): void;
  /** Listens to notifications, errors and the end of the connection (the LISTEN client). */
  on(
    event: 'notification',
    listener: (message: { channel: string; payload?: string }) => void,
  ): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
  /** Stops listening to one of those events. */
  removeListener(event: string, listener: (...args: any[]) => void): unknown;
}

/** The parts of a `pg` `Pool` pup uses. A real `pg.Pool` fits. */
export interface PgPool<Client extends PgPoolClient = PgPoolClient> {
  /** Checks a client out (for a transaction, or for the LISTEN connection). */
  connect(): Promise<Client>;
  /** Runs a statement on any client (status checks, notifications after commit). */
  query(config: PgQueryConfig): Promise<PgQueryResult>;
}

/**
 * The client type a pool hands out: `pg.PoolClient` for a real `pg.Pool` (read from its callback
 * form of `connect`, which TypeScript sees as its last overload), else {@link PgPoolClient}.
 */
export type PgClientOf<Pool> = Pool extends {
  connect(callback: (error: any, client: infer Client, done: any) => void): void;
}
  ? Exclude<Client, undefined>
  : Pool extends { connect(): Promise<infer Client> }
    ? Client
    : PgPoolClient;

function arrayQuery(statement: Statement, params: readonly unknown[]): PgQueryConfig {
  return {
    name: statement.name,
    text: statement.text,
    values: params as unknown[],
    rowMode: 'array',
  };
}

/** Messages of the errors `pg` raises itself when its connection breaks or cannot be made. */
const PG_CONNECTION_ERROR =
  /^(Connection terminated|Client has encountered a connection error|Client was closed|timeout exceeded when trying to connect)/;

/** A `pg.Client` made from the pool's own `Client` class and options. */
interface DedicatedPgClient extends PgPoolClient {
  connect(): Promise<unknown>;
  end(): Promise<void>;
}

/** The LISTEN connection and how to let go of it (`error`: it must not be reused). */
interface ListenConnection {
  client: PgPoolClient;
  done(error?: Error): void;
}

/** How long a given-up transaction tries to cancel its statement before it just closes. */
const CANCEL_TIMEOUT_MS = 1_000;

/** SQLSTATE of a statement sent to a transaction that a failed statement has aborted. */
const IN_FAILED_TRANSACTION = '25P02';

class PgDriver<Client extends PgPoolClient> implements PostgresDriver<Client> {
  readonly notifiesWithCommit = true;

  constructor(private readonly pool: PgPool<Client>) {}

  isTransaction(client: unknown): boolean {
    return (
      typeof client === 'object' &&
      client !== null &&
      typeof (client as { query?: unknown }).query === 'function'
    );
  }

  async query(
    client: Client,
    statement: Statement,
    params: readonly unknown[],
  ): Promise<unknown[][]> {
    return (await client.query(arrayQuery(statement, params))).rows;
  }

  async pipeline(client: Client, queries: readonly PipelinedQuery[]): Promise<unknown[][][]> {
    // pg sends a query only once the previous one has finished: one round trip each.
    const results: unknown[][][] = [];
    for (const [statement, params] of queries) {
      results.push(await this.query(client, statement, params));
    }
    return results;
  }

  async queryPool(statement: Statement, params: readonly unknown[]): Promise<unknown[][]> {
    return (await this.pool.query(arrayQuery(statement, params))).rows;
  }

  async script(client: Client, sql: string): Promise<void> {
    await client.query(sql);
  }

  async transaction<T>(
    fn: (client: Client) => Promise<T>,
    options: DriverTransactionOptions = {},
  ): Promise<T> {
    const { notifyOnCommit, signal } = options;
    const client = await this.pool.connect();
    // Set when the connection cannot be trusted any more: it is then destroyed, not pooled.
    let broken: Error | undefined;
    let released = false;
    // A checked-out client whose connection breaks emits `error` besides failing its query; with
    // no listener that event would crash the process. The failing query reports it.
    const onError = (error: Error): void => {
      broken ??= error;
    };
    const release = (): void => {
      if (released) return;
      released = true;
      client.removeListener('error', onError);
      client.release(broken);
    };
    // Given up by the caller: the statement still running (a wait for a lock, such as another
    // worker's checkpoint lock) is cancelled from a connection of its own, then the connection is
    // closed. The transaction can never commit, and the pool gets a new connection in its place.
    let cancelling: Promise<void> | undefined;
    const giveUp = (): void => {
      broken ??= new Error('the transaction was given up');
      const { processID } = client as { processID?: unknown };
      if (typeof processID !== 'number') {
        release();
        return;
      }
      // The client stays checked out until the cancel is done, so it can only hit this backend.
      cancelling = this.cancelBackend(processID).finally(release);
    };
    client.on('error', onError);
    signal?.addEventListener('abort', giveUp, { once: true });
    try {
      throwIfGivenUp(signal);
      try {
        await client.query('BEGIN');
      } catch (error) {
        broken = asError(error);
        throw error;
      }
      let result: T;
      try {
        result = await fn(client);
      } catch (error) {
        try {
          await client.query('ROLLBACK');
        } catch (rollbackError) {
          broken = asError(rollbackError);
        }
        throw error;
      }
      throwIfGivenUp(signal);
      // The notification rides on the COMMIT's round trip (simple protocol, two statements): it
      // runs after the commit, in a transaction of its own without an xid, so it costs no flush.
      const channel = notifyOnCommit?.();
      let commit: PgQueryResult;
      try {
        const results: PgQueryResult | PgQueryResult[] = await client.query(
          channel === undefined ? 'COMMIT' : `COMMIT; SELECT pg_notify('${channel}', '')`,
        );
        commit = Array.isArray(results) ? results[0]! : results;
      } catch (error) {
        if (!isDatabaseError(error)) broken = asError(error);
        throw describeDriverError(this, error, true) ?? error;
      }
      if (commit.command === 'ROLLBACK') {
        // PostgreSQL answers COMMIT of a failed transaction with ROLLBACK instead of an error.
        throw new DatabaseError(
          DATABASE,
          'COMMIT was answered with ROLLBACK: a statement of the transaction failed and its error was caught, so nothing of the transaction was committed',
        );
      }
      return result;
    } finally {
      signal?.removeEventListener('abort', giveUp);
      if (cancelling !== undefined) await cancelling;
      release();
    }
  }

  /**
   * Cancels the statement backend `processID` runs, from a connection outside the pool (see
   * {@link listenConnection}); gives up after {@link CANCEL_TIMEOUT_MS}. Never throws.
   */
  private async cancelBackend(processID: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, CANCEL_TIMEOUT_MS);
    });
    const cancel = (async () => {
      const { client, done } = await this.listenConnection();
      try {
        await client.query({ text: 'SELECT pg_cancel_backend($1)', values: [processID] });
      } finally {
        done();
      }
    })().catch(() => undefined);
    try {
      await Promise.race([cancel, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async savepoint<T>(client: Client, name: string, fn: () => Promise<T>): Promise<T> {
    const savepoint = quoteIdentifier(name);
    // Simple protocol: the rollback and the release share one round trip.
    const rollback = `ROLLBACK TO SAVEPOINT ${savepoint}; RELEASE SAVEPOINT ${savepoint}`;
    await client.query(`SAVEPOINT ${savepoint}`);
    let result: T;
    try {
      result = await fn();
    } catch (error) {
      // When even this fails the transaction is lost, and its COMMIT will say so.
      await client.query(rollback).catch(() => undefined);
      throw error;
    }
    try {
      await client.query(`RELEASE SAVEPOINT ${savepoint}`);
    } catch (error) {
      if (this.describeError(error)?.code !== IN_FAILED_TRANSACTION) throw error;
      // A statement inside failed and its error was caught: the savepoint's work is lost, but
      // the enclosing transaction can go on once it is rolled back to the savepoint.
      await client.query(rollback);
      throw new DatabaseError(
        DATABASE,
        'the nested transaction was rolled back: one of its statements failed and its error was caught',
        { cause: error },
      );
    }
    return result;
  }

  /**
   * The connection LISTEN (and the cancel of a given-up statement) runs on. A `pg.Pool` says how
   * it makes its clients (its `Client` class and `options`), so the listener gets a connection of
   * its own, outside the pool: it never takes a connection that transactions wait for (a pool of
   * one keeps working). Anything else that only has `connect()` lends one of its clients.
   */
  private async listenConnection(): Promise<ListenConnection> {
    const { Client, options } = this.pool as { Client?: unknown; options?: unknown };
    if (typeof Client !== 'function' || typeof options !== 'object' || options === null) {
      const client = await this.pool.connect();
      return { client, done: (error) => client.release(error) };
    }
    const client = new (Client as new (config: object) => DedicatedPgClient)(options);
    // Errors after the listener let go of the client must not crash the process.
    client.on('error', () => {});
    await client.connect();
    return {
      client,
      done: () => {
        client.end().catch(() => undefined);
      },
    };
  }

  async listen(channel: string, handlers: CommitListenerHandlers): Promise<CommitListener> {
    const { client, done } = await this.listenConnection();
    let open = true;
    const onNotification = (message: { channel: string }): void => {
      if (message.channel === channel) handlers.onCommit();
    };
    const detach = (): void => {
      client.removeListener('notification', onNotification);
      client.removeListener('error', onError);
      client.removeListener('end', onEnd);
    };
    const drop = (error: unknown): void => {
      if (!open) return;
      open = false;
      detach();
      // A broken connection must not go back to the pool.
      done(error instanceof Error ? error : new Error('LISTEN connection ended'));
      handlers.onClosed(error);
    };
    const onError = (error: Error): void => drop(error);
    const onEnd = (): void => drop(undefined);
    client.on('notification', onNotification);
    client.on('error', onError);
    client.on('end', onEnd);
    try {
      await client.query(`LISTEN ${quoteIdentifier(channel)}`);
    } catch (error) {
      if (open) {
        open = false;
        detach();
        done(asError(error));
      }
      throw error;
    }
    return {
      close: async () => {
        if (!open) return;
        open = false;
        try {
          await client.query(`UNLISTEN ${quoteIdentifier(channel)}`);
          detach();
          done();
        } catch (error) {
          detach();
          done(asError(error));
        }
      },
    };
  }

  describeError(error: unknown): DatabaseErrorInfo | undefined {
    if (typeof error !== 'object' || error === null) return undefined;
    const e = error as {
      code?: unknown;
      constraint?: unknown;
      detail?: unknown;
      message?: unknown;
    };
    const code = typeof e.code === 'string' ? e.code : undefined;
    const connectionLost =
      isConnectionLossCode(code) ||
      (typeof e.message === 'string' && PG_CONNECTION_ERROR.test(e.message));
    if (code === undefined && !connectionLost) return undefined;
    return {
      code,
      constraint: typeof e.constraint === 'string' ? e.constraint : undefined,
      detail: typeof e.detail === 'string' ? e.detail : undefined,
      connectionLost,
    };
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** An error the server sent (the connection is fine), as opposed to a socket or protocol error. */
function isDatabaseError(error: unknown): boolean {
  const e = error as { code?: unknown; severity?: unknown } | null;
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof e.code === 'string' &&
    typeof e.severity === 'string'
  );
}

/**
 * Creates an event store on a `pg` pool. The store's `Tx` is the pool's client inside `BEGIN`:
 * run your own SQL on it in the same transaction as an append. The store never ends the pool.
 *
 * @param pool A `pg.Pool` (or anything with its `connect` and `query`).
 * @param options Table names, serializer, logger, notifications, event rules.
 * @typeParam E The store's events (see `DomainEvent` in `@pup/core`): `append` then accepts only
 * known `eventType`/`payload` pairs and reads narrow `payload` by `eventType`. Given explicitly,
 * `Pool` falls back to the structural `PgPool`; name it too to keep `pg.PoolClient` as the
 * transaction type: `createPgEventStore<BankEvent, pg.Pool>(pool)`.
 * @throws {InvalidConfigError} on invalid options, before any SQL runs.
 *
 * @example
 * import pg from 'pg';
 * import { ExpectedVersion } from '@pup/core';
 * import { createPgEventStore } from '@pup/postgres';
 *
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
 * const store = createPgEventStore(pool);
 * await store.migrate();
 * await store.transaction(async (tx) => {
 *   await store.append(tx, ExpectedVersion.noStream(), [
 *     { boundedContext: 'billing', aggregateType: 'Invoice', aggregateId: 'inv-1',
 *       eventType: 'InvoiceIssued', payload: { amount: 42 } },
 *   ]);
 *   await tx.query('UPDATE invoice_counter SET n = n + 1');
 * });
 */
export function createPgEventStore<
  E extends object = DomainEvent,
  Pool extends PgPool<any> = PgPool,
>(
  pool: Pool,
  options?: PostgresEventStoreOptions & EventStoreOptions<E>,
): PostgresEventStore<PgClientOf<Pool>, E> {
  const resolved = resolvePostgresOptions(options);
  if (typeof pool !== 'object' || pool === null || typeof pool.connect !== 'function') {
    throw new InvalidConfigError('pool', 'must be a pg Pool');
  }
  return createPostgresEventStore(
    new PgDriver(pool as PgPool),
    pool,
    resolved,
  ) as PostgresEventStore<PgClientOf<Pool>, E>;
}
