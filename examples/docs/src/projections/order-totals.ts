// docs/projections-and-scaling.md: a projection, run by self-balancing workers, and
// read-your-writes with waitForProjection. Runs on SQLite in memory.

import type { Projection } from '@pup/core';
import { type DomainEvent, ExpectedVersion, ProjectionWorker, waitForProjection } from '@pup/core';
import { createSqliteEventStore } from '@pup/sqlite';
import Database from 'better-sqlite3';

type OrderEvent =
  | DomainEvent<'OrderPlaced', { customer: string; total: number }>
  | DomainEvent<'OrderCancelled', { reason: string }>;

const db = new Database(':memory:');
const store = createSqliteEventStore<OrderEvent, Database.Database>(db);
await store.migrate();
db.exec('CREATE TABLE order_totals (customer TEXT PRIMARY KEY, total INTEGER NOT NULL)');

// #region projection
const orderTotals: Projection<Database.Database, OrderEvent> = {
  name: 'order-totals', // unique: the key of its checkpoint
  aggregateTypes: ['Order'], // optional scope; boundedContexts too
  handle(event, { tx }) {
    // Write the read model through tx: it commits with the checkpoint. The context also has the
    // run's `signal`, for handlers that wait on something.
    if (event.eventType !== 'OrderPlaced') return;
    tx.prepare(
      `INSERT INTO order_totals VALUES (?, ?)
       ON CONFLICT (customer) DO UPDATE SET total = total + excluded.total`,
    ).run(event.payload.customer, event.payload.total);
  },
};
// #endregion projection

const controller = new AbortController();
const { signal } = controller;

// #region worker
const worker = new ProjectionWorker(store, {
  segments: 8, // fixed per projection: at most 8 workers share the work
  leaseTtlMs: 10_000, // a dead or stalled worker's segments move after this long
  heartbeatMs: 3_000, // renew leases and rebalance this often
  batchSize: 100, // and every other ProjectionProcessor option
});
const running = worker.run(orderTotals, { signal }); // until `signal` aborts
// #endregion worker

const orderPlaced = {
  boundedContext: 'sales',
  aggregateType: 'Order',
  aggregateId: 'order-1',
  eventType: 'OrderPlaced' as const,
  payload: { customer: 'ada', total: 42 },
};
// #region read-your-writes
const result = await store.appendToStream(ExpectedVersion.noStream(), [orderPlaced]);
await waitForProjection(store, orderTotals, result, { timeoutMs: 5_000 });
// #endregion read-your-writes

const rows = db.prepare('SELECT customer, total FROM order_totals').all();
if (JSON.stringify(rows) !== JSON.stringify([{ customer: 'ada', total: 42 }])) {
  throw new Error(`order_totals: ${JSON.stringify(rows)}`);
}
controller.abort();
await running;
await store.close();
db.close();
