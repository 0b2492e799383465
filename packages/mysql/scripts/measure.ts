// Measures @pup/mysql against raw mysql2 doing the same SQL (the "raw shape" of the position-block
// design) and against the auto-increment floor (A of the issue), in alternating rounds on one
// server. Run from packages/mysql: `npx tsx scripts/measure.ts` (MYSQL_URL, ROUNDS, SECONDS).
// Creates and drops its own database `pup_measure_<pid>`. Prints medians and the ratios.
import { randomUUID } from 'node:crypto';
import { ExpectedVersion, type PersistedEvent, ProjectionProcessor } from '@pup/core';
import mysql from 'mysql2/promise';
import { createMysqlEventStore } from '../src/index.js';

const url = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SECONDS = Number(process.env.SECONDS ?? 2);
const READ_EVENTS = 20_000;
const DB = `pup_measure_${process.pid}`;
const K = 16_384;

const admin = await mysql.createConnection({ uri: url });
await admin.query(`DROP DATABASE IF EXISTS ${DB}`);
await admin.query(`CREATE DATABASE ${DB}`);
const pool = mysql.createPool({ uri: url, connectionLimit: 20 });
const tables = (p: string) => ({
  events: `${DB}.${p}_events`,
  aggregateHeads: `${DB}.${p}_heads`,
  checkpoints: `${DB}.${p}_cps`,
});
const pupStore = createMysqlEventStore(pool, { tables: tables('pup') });
const rawStore = createMysqlEventStore(pool, { tables: tables('raw') }); // raw side's schema
await pupStore.migrate();
await rawStore.migrate();
await pool.query(`CREATE TABLE ${DB}.a_events (global_position BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  bounded_context VARBINARY(400) NOT NULL, aggregate_type VARBINARY(400) NOT NULL, aggregate_id VARBINARY(1020) NOT NULL,
  aggregate_version BIGINT NOT NULL, event_id BINARY(16) NOT NULL, event_type VARBINARY(1020) NOT NULL,
  event_version INT NOT NULL DEFAULT 1, payload LONGBLOB NOT NULL, metadata JSON NULL, created_at DATETIME(3) NOT NULL,
  UNIQUE KEY (event_id), UNIQUE KEY (bounded_context, aggregate_type, aggregate_id, aggregate_version)) ENGINE=InnoDB`);

const payload = (i: number) => ({ email: 'alice@example.com', name: 'Alice', n: i });
const uuid = () => Buffer.from(randomUUID().replaceAll('-', ''), 'hex');
const now = () => new Date().toISOString().slice(0, 23).replace('T', ' ');
const row = (id: Buffer, v: number, i: number) => [
  Buffer.from('shop'),
  Buffer.from('Order'),
  id,
  v,
  uuid(),
  Buffer.from('ItemAdded'),
  Buffer.from(JSON.stringify(payload(i))),
  now(),
];
const marks = (n: number, k: string) => Array.from({ length: n }, () => k).join(',');
type Conn = mysql.PoolConnection;

/** Raw A: BEGIN; INSERT (auto-increment); COMMIT. */
async function rawA(c: Conn, n: number) {
  const id = Buffer.from(randomUUID());
  await c.query('START TRANSACTION');
  await c.query(
    `INSERT INTO ${DB}.a_events (bounded_context, aggregate_type, aggregate_id, aggregate_version, event_id, event_type, payload, created_at) VALUES ${marks(n, '(?,?,?,?,?,?,?,?)')}`,
    Array.from({ length: n }, (_, i) => row(id, i + 1, i)).flat(),
  );
  await c.query('COMMIT');
}

/** The same statements pup runs for a noStream() append to a new stream, without pup. */
async function rawBlocks(c: Conn, n: number) {
  const t = tables('raw');
  const id = Buffer.from(randomUUID());
  const lock = `pup_raw_${randomUUID().replaceAll('-', '')}`;
  await c.query('SET TRANSACTION ISOLATION LEVEL READ COMMITTED');
  await c.query('START TRANSACTION');
  await c.query(
    `INSERT INTO ${t.aggregateHeads} (bounded_context, aggregate_type, aggregate_id, aggregate_version) SELECT ?, ?, ?, ? FROM DUAL WHERE GET_LOCK(?, 50) = 1`,
    [Buffer.from('shop'), Buffer.from('Order'), id, n, lock],
  );
  await c.query('DO RELEASE_LOCK(?)', [lock]);
  const [[drawn]] = (await c.query({
    sql: `SELECT block, (SELECT MAX(top.block) FROM ${t.events}_blocks top) FROM ${t.events}_blocks ORDER BY block LIMIT 1 FOR UPDATE SKIP LOCKED`,
    rowsAsArray: true,
  })) as unknown as [[number, number][]];
  const block = Number(drawn![0]);
  await c.query(`DELETE FROM ${t.events}_blocks WHERE block = ?`, [block]);
  await c.query(
    `INSERT INTO ${t.events} (global_position, bounded_context, aggregate_type, aggregate_id, aggregate_version, event_id, event_type, payload, created_at) VALUES ${marks(n, '(?,?,?,?,?,?,?,?,?)')}`,
    Array.from({ length: n }, (_, i) => [block * K + i, ...row(id, i + 1, i)]).flat(),
  );
  await c.query('COMMIT');
  if (Number(drawn![1]) - block < 250) {
    await c.query('START TRANSACTION');
    const [h] = (await c.query(
      `UPDATE ${t.events}_meta SET value = LAST_INSERT_ID(value + 1000) WHERE name = 'next_block'`,
    )) as unknown as [{ insertId: number }];
    const end = Number(h.insertId);
    await c.query(
      `INSERT IGNORE INTO ${t.events}_blocks (block) VALUES ${Array.from({ length: 1000 }, (_, i) => `(${end - 1000 + i})`).join(',')}`,
    );
    await c.query('COMMIT');
  }
}

async function pupAppend(_c: Conn, n: number) {
  const id = randomUUID();
  await pupStore.transaction((tx) =>
    pupStore.append(
      tx,
      ExpectedVersion.noStream(),
      Array.from({ length: n }, (_, i) => ({
        boundedContext: 'shop',
        aggregateType: 'Order',
        aggregateId: id,
        eventType: 'ItemAdded',
        payload: payload(i),
      })),
    ),
  );
}

/** Events per second of `writers` loops of `op` for SECONDS. */
async function rate(writers: number, n: number, op: (c: Conn, n: number) => Promise<void>) {
  // pup takes a pooled connection per transaction itself; the raw loops keep one each.
  const conns =
    op === pupAppend
      ? Array.from({ length: writers }, () => undefined as unknown as Conn)
      : await Promise.all(Array.from({ length: writers }, () => pool.getConnection()));
  const until = performance.now() + SECONDS * 1000;
  const start = performance.now();
  let count = 0;
  await Promise.all(
    conns.map(async (c) => {
      while (performance.now() < until) {
        await op(c, n);
        count += n;
      }
    }),
  );
  const rateValue = count / ((performance.now() - start) / 1000);
  for (const c of conns) c?.release();
  return rateValue;
}

/** 4 pup writers' events per second while another transaction holds its append open. */
async function withHolder(hold: boolean) {
  let release: () => void = () => {};
  let holder: Promise<unknown> = Promise.resolve();
  if (hold) {
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let opened!: () => void;
    const isOpen = new Promise<void>((resolve) => {
      opened = resolve;
    });
    holder = pupStore.transaction(async (tx) => {
      await pupStore.append(tx, ExpectedVersion.any(), [
        {
          boundedContext: 'shop',
          aggregateType: 'Order',
          aggregateId: randomUUID(),
          eventType: 'Held',
          payload: {},
        },
      ]);
      opened();
      await released;
    });
    await isOpen;
  }
  const value = await rate(4, 1, pupAppend);
  release();
  await holder;
  return value;
}

const results: Record<string, number[]> = {};
const put = (k: string, v: number) => {
  results[k] ??= [];
  results[k].push(v);
};
const median = (k: string) => {
  const xs = [...(results[k] ?? [])].sort((a, b) => a - b);
  return xs[Math.floor(xs.length / 2)]!;
};

for (let r = 0; r < ROUNDS; r++) {
  put('A 1', await rate(1, 1, rawA));
  put('raw 1', await rate(1, 1, rawBlocks));
  put('pup 1', await rate(1, 1, pupAppend));
  put('raw 100', await rate(1, 100, rawBlocks));
  put('pup 100', await rate(1, 100, pupAppend));
  put('A 8w', await rate(8, 1, rawA));
  put('raw 8w', await rate(8, 1, rawBlocks));
  put('pup 8w', await rate(8, 1, pupAppend));
  put('pup 4w', await withHolder(false));
  put('pup 4w held', await withHolder(true));
}

// Catch-up: a log of READ_EVENTS events; raw keyset pages vs a pup projection catching up.
const readStore = createMysqlEventStore(pool, { tables: tables('read') });
await readStore.migrate();
for (let i = 0; i < READ_EVENTS / 100; i++) {
  await readStore.transaction((tx) =>
    readStore.append(
      tx,
      ExpectedVersion.noStream(),
      Array.from({ length: 100 }, (_, j) => ({
        boundedContext: 'shop',
        aggregateType: 'Order',
        aggregateId: `read-${i}`,
        eventType: 'ItemAdded',
        payload: payload(j),
      })),
    ),
  );
}
const readTable = tables('read').events;
for (let r = 0; r < ROUNDS; r++) {
  for (const page of [100, 1000]) {
    const c = await pool.getConnection();
    let after = 0;
    let count = 0;
    const start = performance.now();
    for (;;) {
      const [rows] = (await c.query(
        `SELECT global_position, bounded_context, aggregate_type, aggregate_id, aggregate_version, event_id, event_type, event_version, payload, metadata, created_at FROM ${readTable} WHERE global_position > ? ORDER BY global_position LIMIT ${page}`,
        [after],
      )) as unknown as [{ global_position: number; payload: Buffer }[]];
      for (const row of rows) {
        JSON.parse(row.payload.toString('utf8'));
        count++;
      }
      if (rows.length < page) break;
      after = Number(rows[rows.length - 1]!.global_position);
    }
    put(`raw read ${page}`, count / ((performance.now() - start) / 1000));
    c.release();

    const name = `measure-${randomUUID()}`;
    const controller = new AbortController();
    let handled = 0;
    const processor = new ProjectionProcessor(readStore, { batchSize: page, maxBatchSize: page });
    const begin = performance.now();
    const running = processor.run(
      {
        name,
        handle: (event: PersistedEvent) => {
          handled++;
          if (handled === READ_EVENTS) controller.abort();
          void event.payload;
        },
      },
      { signal: controller.signal },
    );
    await running;
    put(`pup catch-up ${page}`, handled / ((performance.now() - begin) / 1000));
  }
}

const f = (k: string) => median(k).toFixed(0);
const q = (a: string, b: string) => (median(a) / median(b)).toFixed(2);
console.log(`medians of ${ROUNDS} alternating rounds of ${SECONDS} s (events/s)`);
console.log(
  `append 1 event      : A ${f('A 1')}  raw blocks ${f('raw 1')}  pup ${f('pup 1')}  → pup/raw ${q('pup 1', 'raw 1')} (goal ≥ 0.85), pup/A ${q('pup 1', 'A 1')}`,
);
console.log(
  `append 100 events   : raw blocks ${f('raw 100')}  pup ${f('pup 100')}  → pup/raw ${q('pup 100', 'raw 100')} (goal ≥ 0.8)`,
);
console.log(
  `8 writers, 1 event  : A ${f('A 8w')}  raw blocks ${f('raw 8w')}  pup ${f('pup 8w')}  → pup/A ${q('pup 8w', 'A 8w')} (goal ≥ 0.35), pup/raw ${q('pup 8w', 'raw 8w')}`,
);
console.log(
  `held-open writer    : 4 pup writers ${f('pup 4w')} without, ${f('pup 4w held')} with one transaction held open → ${q('pup 4w held', 'pup 4w')} (goal ≥ 0.5)`,
);
console.log(
  `catch-up, batch 100 : raw keyset ${f('raw read 100')}  pup projection ${f('pup catch-up 100')}  → ${q('pup catch-up 100', 'raw read 100')} (goal ≥ 0.7)`,
);
console.log(
  `catch-up, batch 1000: raw keyset ${f('raw read 1000')}  pup projection ${f('pup catch-up 1000')}  → ${q('pup catch-up 1000', 'raw read 1000')}`,
);
if (process.env.VERBOSE) console.log(results);

await Promise.all([pupStore.close(), rawStore.close(), readStore.close()]);
await pool.end();
await admin.query(`DROP DATABASE ${DB}`);
await admin.end();
