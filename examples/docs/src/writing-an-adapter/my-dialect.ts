// docs/writing-an-adapter.md: the factory and the skeleton of a dialect, type-checked against the
// adapter kit. The skeleton compiles but does no database work: its bodies say what to write.
// biome-ignore-all lint/correctness/noUnusedFunctionParameters: a skeleton to fill in
// biome-ignore-all lint/correctness/noUnusedPrivateClassMembers: a skeleton to fill in

/** The few methods of your driver the dialect calls, described structurally. */
interface MyConnection {
  query(sql: string, params?: unknown[]): Promise<unknown[]>;
  release(): void;
}
interface MyPool {
  connect(): Promise<MyConnection>;
}
type MyDatabase = MyPool;

// #region skeleton
import type { TableNames } from '@pup/core';
import type {
  AppendOutcome,
  DialectCall,
  EventStoreDialect,
  PreparedAppend,
  StoredEventRow,
  TransactionScope,
} from '@pup/core/adapter';
import { positionCheckpoints } from '@pup/core/adapter';

// MyPool and MyConnection describe your driver structurally (the few methods you call).
class MyDialect implements EventStoreDialect<MyConnection, number> {
  readonly name = 'MyDB';
  readonly checkpoints = positionCheckpoints;

  constructor(
    private readonly pool: MyPool,
    private readonly tables: TableNames,
  ) {}

  isTransaction(tx: unknown): boolean {
    return (
      typeof tx === 'object' && tx !== null && typeof (tx as MyConnection).query === 'function'
    );
  }

  async transaction<T>(fn: (tx: MyConnection) => Promise<T>, _scope: TransactionScope): Promise<T> {
    const connection = await this.pool.connect();
    try {
      await connection.query('BEGIN');
      try {
        const result = await fn(connection);
        await connection.query('COMMIT');
        return result;
      } catch (error) {
        await connection.query('ROLLBACK');
        throw error; // the very error: core tells the user's error from a driver error by identity
      }
    } finally {
      connection.release();
    }
  }

  async savepoint<T>(tx: MyConnection, name: string, fn: () => Promise<T>): Promise<T> {
    await tx.query(`SAVEPOINT ${name}`);
    try {
      const result = await fn();
      await tx.query(`RELEASE SAVEPOINT ${name}`);
      return result;
    } catch (error) {
      await tx.query(`ROLLBACK TO SAVEPOINT ${name}`);
      await tx.query(`RELEASE SAVEPOINT ${name}`);
      throw error;
    }
  }

  async append(
    tx: MyConnection,
    append: PreparedAppend,
    _call: DialectCall,
  ): Promise<AppendOutcome> {
    // Lock or upsert the stream's head row, compare with append.expected.matches(version),
    // insert append.events (eventId, eventType, eventVersion, payloadBytes, metadataJson,
    // traceId, correlationId, causationId, createdAt) with versions version + 1, …
    // and map a unique violation on event_id to { status: 'duplicateEventId' }.
    throw new Error('not written yet');
  }

  async readEvents(
    tx: MyConnection,
    after: number | null,
    limit: number,
  ): Promise<StoredEventRow[]> {
    // SELECT … WHERE global_position > $after ORDER BY global_position LIMIT $limit,
    // rows mapped with checkpoint: positionCheckpoint(row.global_position).
    throw new Error('not written yet');
  }

  // readStream, getCheckpoint, saveCheckpoint, getLogStatus, migrate, close …
}
// #endregion skeleton

// The members the skeleton leaves out, declared so that it type-checks as a whole class.
// biome-ignore lint/correctness/noUnusedVariables: merges into the class MyDialect above
interface MyDialect
  extends Pick<
    EventStoreDialect<MyConnection, number>,
    'readStream' | 'getCheckpoint' | 'saveCheckpoint' | 'getLogStatus' | 'migrate' | 'close'
  > {}

// #region factory
import type { EventStoreOptions } from '@pup/core';
import { createEventStore, resolveEventStoreOptions } from '@pup/core/adapter';

export function createMyEventStore(db: MyDatabase, options?: EventStoreOptions) {
  // Validates table names, serializer and logger: bad options throw InvalidConfigError here,
  // before any SQL runs.
  const resolved = resolveEventStoreOptions(options);
  return createEventStore(new MyDialect(db, resolved.tables), resolved);
}
// #endregion factory
