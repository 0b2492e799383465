import { rmSync } from 'node:fs';
import {
  type EventStore,
  type EventStoreOptions,
  ExpectedVersion,
  type NewEvent,
  type StreamRef,
} from '@pup/core';
import Database from 'better-sqlite3';
import { type RawEventRow, rawRows } from '../fixtures.js';
import { pupCatchUp } from '../pup-catch-up.js';
import { decodeRawRow } from './decode.js';
import { importOptional, packageVersion } from './load.js';
import type { BenchTarget, CatchUpOptions, SideOps, TargetConfig } from './types.js';

type Db = Database.Database;

interface PupSqliteModule {
  createSqliteEventStore(db: Db, options?: EventStoreOptions): EventStore<Db>;
}

const INSERT_COLUMNS =
  'bounded_context, aggregate_type, aggregate_id, aggregate_version, event_id, event_type, ' +
  'event_version, payload, metadata, trace_id, correlation_id, causation_id, created_at';
const SELECT_COLUMNS = `global_position, ${INSERT_COLUMNS}`;

/** Rows per transaction of the bulk load. */
const PRELOAD_CHUNK = 50_000;

/**
 * Imports the adapter once (before any workload runs, so a rebuild of its `dist` by someone else
 * in the middle of a long run cannot break the benchmark).
 */
let adapter: ReturnType<typeof importOptional<PupSqliteModule>> | undefined;
export function loadSqliteAdapter(): ReturnType<typeof importOptional<PupSqliteModule>> {
  adapter ??= importOptional<PupSqliteModule>('@pup/sqlite');
  return adapter;
}

/**
 * SQLite through better-sqlite3: pup's `createSqliteEventStore` against raw statements on the
 * very same `Database` connection (so pragmas, WAL and synchronous level are identical).
 */
export async function createSqliteTarget(config: TargetConfig): Promise<BenchTarget> {
  const loaded = await loadSqliteAdapter();
  let unavailable: string | null = loaded.reason;
  if (loaded.module !== null && typeof loaded.module.createSqliteEventStore !== 'function') {
    unavailable = '@pup/sqlite does not export createSqliteEventStore yet';
  }
  let db: Db | null = null;
  let store: EventStore<Db> | null = null;
  let statements: RawStatements | null = null;

  const openDb = async (fresh: boolean) => {
    if (fresh) {
      for (const suffix of ['', '-wal', '-shm'])
        rmSync(config.sqliteFile + suffix, { force: true });
    }
    // Both sides write into the tables of pup's own migrate(): one schema, no copy to drift.
    if (unavailable !== null) throw new Error(`@pup/sqlite is unavailable: ${unavailable}`);
    db = new Database(config.sqliteFile);
    store = loaded.module!.createSqliteEventStore(db);
    if (fresh) await store.migrate();
    statements = null;
  };
  const raws = () => {
    statements ??= prepareRaw(db!);
    return statements;
  };
  const closeDb = async () => {
    await store?.close();
    db?.close();
    store = null;
    db = null;
    statements = null;
  };

  const pup: SideOps = {
    async append(events) {
      const s = store!;
      await s.transaction(async (tx) => s.append(tx, ExpectedVersion.noStream(), events));
    },
    async appendToStream(events) {
      await store!.appendToStream(ExpectedVersion.noStream(), events);
    },
    async readStream(stream) {
      return (await store!.readAggregateStream(db!, stream)).events.length;
    },
    catchUp: (options) => pupCatchUp(store!, options),
  };

  const insertRow = (s: RawStatements, row: RawEventRow) =>
    s.insert.run(
      row.boundedContext,
      row.aggregateType,
      row.aggregateId,
      row.aggregateVersion,
      row.eventId,
      row.eventType,
      row.eventVersion,
      row.payload,
      row.metadata,
      row.traceId,
      row.correlationId,
      row.causationId,
      row.createdAt.getTime(),
    );

  const rawAppend = (withHead: boolean) => async (events: readonly NewEvent[]) => {
    const s = raws();
    const rows = rawRows(events);
    s.begin.run();
    try {
      if (withHead) {
        const first = rows[0]!;
        const { changes } = s.createHead.run(
          first.boundedContext,
          first.aggregateType,
          first.aggregateId,
          rows.length,
        );
        if (changes !== 1) throw new Error('the stream already exists');
      }
      for (const row of rows) insertRow(s, row);
      s.commit.run();
    } catch (error) {
      if (db!.inTransaction) s.rollback.run();
      throw error;
    }
  };

  /** Raw sides; `plus` also writes the head row and decodes what it reads. */
  const rawSide = (plus: boolean): SideOps => ({
    append: rawAppend(plus),
    // One event, one statement in its own implicit transaction (raw only).
    ...(plus
      ? {}
      : {
          async appendToStream(events: readonly NewEvent[]) {
            const s = raws();
            for (const row of rawRows(events)) insertRow(s, row);
          },
        }),
    async readStream(stream: StreamRef) {
      const rows = raws().readStream.all(
        stream.boundedContext,
        stream.aggregateType,
        stream.aggregateId,
      ) as unknown[][];
      if (plus) for (const row of rows) decodeRawRow(row, 8, 9, 13);
      return rows.length;
    },
    async catchUp({ total, batchSize, onBatch, signal }: CatchUpOptions) {
      const keyset = raws().keyset;
      let after = 0;
      let seen = 0;
      while (seen < total && !signal?.aborted) {
        const rows = keyset.all(after, batchSize) as unknown[][];
        if (rows.length === 0) break;
        for (const row of rows) {
          if (plus) decodeRawRow(row, 8, 9, 13);
          seen += 1;
        }
        after = rows[rows.length - 1]![0] as number;
        onBatch?.(seen);
      }
      return seen;
    },
  });
  const raw = rawSide(false);

  return {
    id: 'sqlite',
    adapter: 'sqlite',
    driver: `better-sqlite3 ${packageVersion('better-sqlite3')}`,
    pupUnavailable: () => unavailable,
    open: () => openDb(false),
    close: closeDb,
    async environment() {
      const d = db!;
      return {
        sqlite_version: String(
          (d.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v,
        ),
        journal_mode: String(d.pragma('journal_mode', { simple: true })),
        synchronous:
          ['OFF', 'NORMAL', 'FULL', 'EXTRA'][Number(d.pragma('synchronous', { simple: true }))] ??
          '?',
        busy_timeout: String(d.pragma('busy_timeout', { simple: true })),
        database: config.sqliteFile,
      };
    },
    async resetTables() {
      await closeDb();
      await openDb(true);
    },
    async emptyTables() {
      const d = db!;
      d.exec('DELETE FROM events; DELETE FROM aggregate_heads; DELETE FROM projection_checkpoints');
      const hasSequence = d
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'")
        .get();
      if (hasSequence) d.exec('DELETE FROM sqlite_sequence');
      d.pragma('wal_checkpoint(TRUNCATE)');
    },
    async preload(count, perStream, onProgress) {
      const d = db!;
      const insert = d.prepare(
        `INSERT INTO events (${INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      const head = d.prepare(
        'INSERT INTO aggregate_heads (bounded_context, aggregate_type, aggregate_id, aggregate_version) ' +
          'VALUES (?, ?, ?, ?)',
      );
      const loadChunk = d.transaction((from: number, to: number) => {
        for (let g = from; g < to; g++) {
          const streamIndex = Math.floor(g / perStream);
          const version = (g % perStream) + 1;
          const aggregateId = `pre-${streamIndex}`;
          const [row] = rawRows([
            {
              boundedContext: 'bench',
              aggregateType: 'Account',
              aggregateId,
              eventType: 'MoneyDeposited',
              payload: {
                accountId: aggregateId,
                amount: (version - 1) * 7 + 1,
                currency: 'EUR',
                reference: `INV-${version - 1}`,
              },
              metadata: { source: 'bench', userId: 'user-42' },
            },
          ]);
          insert.run(
            row!.boundedContext,
            row!.aggregateType,
            row!.aggregateId,
            version,
            row!.eventId,
            row!.eventType,
            row!.eventVersion,
            row!.payload,
            row!.metadata,
            null,
            null,
            null,
            row!.createdAt.getTime(),
          );
          if (version === perStream || g === count - 1) {
            head.run('bench', 'Account', aggregateId, version);
          }
        }
      });
      for (let from = 0; from < count; from += PRELOAD_CHUNK) {
        const to = Math.min(count, from + PRELOAD_CHUNK);
        loadChunk(from, to);
        onProgress?.(to);
      }
      d.pragma('wal_checkpoint(TRUNCATE)');
      d.exec('ANALYZE');
    },
    notes(workload) {
      if (workload === 'append-1x8') {
        return (
          'one connection: better-sqlite3 is synchronous, so the 8 raw writers never overlap; ' +
          "pup's transaction() queues the 8 async writers on the connection"
        );
      }
      return undefined;
    },
    pup,
    raw,
    rawPlus: rawSide(true),
  };
}

interface RawStatements {
  begin: Database.Statement;
  commit: Database.Statement;
  rollback: Database.Statement;
  insert: Database.Statement;
  createHead: Database.Statement;
  readStream: Database.Statement;
  keyset: Database.Statement;
}

function prepareRaw(db: Db): RawStatements {
  return {
    begin: db.prepare('BEGIN IMMEDIATE'),
    commit: db.prepare('COMMIT'),
    rollback: db.prepare('ROLLBACK'),
    insert: db.prepare(
      `INSERT INTO events (${INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    createHead: db.prepare(
      'INSERT INTO aggregate_heads (bounded_context, aggregate_type, aggregate_id, aggregate_version) ' +
        'VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
    ),
    // Rows as arrays, as pup reads them (`Statement.raw()`): the cheapest way to get the columns.
    readStream: db
      .prepare(
        `SELECT ${SELECT_COLUMNS} FROM events ` +
          'WHERE bounded_context = ? AND aggregate_type = ? AND aggregate_id = ? ' +
          'ORDER BY aggregate_version',
      )
      .raw(),
    keyset: db
      .prepare(
        `SELECT ${SELECT_COLUMNS} FROM events WHERE global_position > ? ORDER BY global_position LIMIT ?`,
      )
      .raw(),
  };
}
