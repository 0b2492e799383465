/**
 * Not a benchmark: checks that a catch-up delivers every committed event when the log was written
 * by concurrent appenders, for pup (PostgreSQL, `pg`) and for the peer library (Emmett):
 *
 *   npx tsx src/peer-order-check.ts [streams] [writers]
 *
 * Both logs get `streams` streams of 10 events from `writers` concurrent appenders; once every
 * append has committed, a fresh projection (pup's `ProjectionProcessor`, Emmett's consumer with a
 * reactor) reads its log from the start and counts what it was handed.
 */
import { ExpectedVersion, ProjectionProcessor } from '@pup/core';
import { createPgEventStore } from '@pup/postgres';
import pg from 'pg';
import { eventsFor, preloadedStream } from './fixtures.js';
import { progress } from './progress.js';
import { dropScratch, targetConfig } from './targets/config.js';
import { createEmmettPeer } from './targets/emmett.js';
import { postgresTables } from './targets/postgres-sql.js';

const PER_STREAM = 10;

/** Runs `count` appends with `writers` concurrent writers. */
async function appendConcurrently(
  count: number,
  writers: number,
  append: (index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const writer = async () => {
    for (let i = next++; i < count; i = next++) await append(i);
  };
  await Promise.all(Array.from({ length: writers }, writer));
}

async function main(): Promise<void> {
  const streams = Number(process.argv[2] ?? 200);
  const writers = Number(process.argv[3] ?? 4);
  const committed = streams * PER_STREAM;
  const config = targetConfig(`pup_order_${process.pid}`, '');
  const pool = new pg.Pool({ connectionString: config.postgresUrl, max: writers + 2 });
  const tables = postgresTables(config.postgresSchema);
  const store = createPgEventStore(pool, { tables });
  const peer = createEmmettPeer(config);
  try {
    await pool.query(`CREATE SCHEMA ${config.postgresSchema}`);
    await store.migrate();
    await appendConcurrently(streams, writers, (i) =>
      store
        .appendToStream(ExpectedVersion.noStream(), eventsFor(preloadedStream(i), PER_STREAM))
        .then(() => undefined),
    );
    const controller = new AbortController();
    let pupSeen = 0;
    const timer = setTimeout(() => controller.abort(), 30_000);
    await new ProjectionProcessor(store).run(
      {
        name: 'order-check',
        handle() {
          pupSeen += 1;
          if (pupSeen === committed) controller.abort();
        },
      },
      { signal: controller.signal },
    );
    clearTimeout(timer);
    progress(`pup: ${committed} events committed by ${writers} writers, ${pupSeen} handed out`);

    await peer.open();
    const unavailable = peer.unavailable();
    if (unavailable !== null) throw new Error(unavailable);
    await appendConcurrently(streams, writers, (i) =>
      peer.ops.append(eventsFor(preloadedStream(i), PER_STREAM)),
    );
    // A consumer that never sees the last events is stopped after 30 s.
    const peerSeen = await peer.ops.catchUp({
      total: committed,
      batchSize: 100,
      signal: AbortSignal.timeout(30_000),
    });
    progress(
      `${peer.name}: ${committed} events committed by ${writers} writers, ${peerSeen} handed out`,
    );
  } finally {
    await peer.close();
    await store.close();
    await pool.end();
    await dropScratch(config, ['postgres']);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
