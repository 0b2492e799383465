// Starts N worker processes, each with its own partition key, appends orders while they run,
// waits until every partition has caught up, stops the workers with SIGTERM and checks that the
// read model holds every order exactly once.
import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { getProjectionStatus } from '@pup/core';
import { openExampleDatabase, type Total } from '../shared/database.js';
import { checkOrderLedger, createOrderLedger } from '../shared/read-models.js';
import { check, mergeFacts, seedOrders } from '../shared/shop.js';

const PARTITIONS = Number(process.env.PARTITIONS ?? 3);
const here = dirname(fileURLToPath(import.meta.url));
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

function startWorker(partitionKey: number): {
  child: ChildProcess;
  exited: Promise<number | null>;
} {
  const child = spawn(process.execPath, ['--import', tsx, join(here, 'worker.ts')], {
    env: {
      ...process.env,
      PARTITION_KEY: String(partitionKey),
      TOTAL_PARTITIONS: String(PARTITIONS),
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return { child, exited };
}

const db = await openExampleDatabase('partitioned', { reset: true });
const workers: ReturnType<typeof startWorker>[] = [];
try {
  await createOrderLedger(db);
  const before = await seedOrders(db.store, 300);
  for (let key = 0; key < PARTITIONS; key++) workers.push(startWorker(key));
  // More orders while the workers run.
  const during = await seedOrders(db.store, 300, { firstOrder: 301 });
  const facts = mergeFacts(before, during);

  const deadline = Date.now() + 30_000;
  let exitedEarly = false;
  for (const worker of workers) void worker.exited.then(() => (exitedEarly = true));
  for (;;) {
    const status = await getProjectionStatus(db.store, 'order-ledger', {
      totalPartitions: PARTITIONS,
    });
    if (status.caughtUp) break;
    check(!exitedEarly, 'a worker exited before the read model was complete');
    check(Date.now() < deadline, `not caught up in time: ${status.eventsBehind} events behind`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  for (const { child } of workers) child.kill('SIGTERM');
  const codes = await Promise.all(workers.map((w) => w.exited));
  check(
    codes.every((code) => code === 0),
    `workers exit cleanly after SIGTERM (${codes.join(', ')})`,
  );

  await checkOrderLedger(db, facts);
  const perWorker = await db.query<{ worker: string; orders: Total }>(
    null,
    `SELECT worker, COUNT(*) AS orders FROM ${db.table('order_ledger')} GROUP BY worker ORDER BY worker`,
  );
  for (const row of perWorker) console.log(`${row.worker}: ${row.orders} orders`);
  check(perWorker.length === PARTITIONS, 'every partition did a share of the work');
  console.log(
    `ok: ${PARTITIONS} processes handled ${facts.orders} orders exactly once (${db.kind})`,
  );
} finally {
  for (const { child } of workers) if (child.exitCode === null) child.kill('SIGKILL');
  await db.close();
}
