import {
  type DomainEvent,
  ExpectedVersion,
  getProjectionStatus,
  type Projection,
  ProjectionProcessor,
} from '@pup/core';
import { createSqliteEventStore } from '@pup/sqlite';
import Database from 'better-sqlite3';

type OrderEvent =
  | DomainEvent<'OrderPlaced', { customer: string; total: number }>
  | DomainEvent<'OrderCancelled', { reason: string }>;

const db = new Database(':memory:');
// The driver's type named too, so projections get better-sqlite3's own Database as `tx`.
const store = createSqliteEventStore<OrderEvent, Database.Database>(db);
await store.migrate();
db.exec('CREATE TABLE order_totals (customer TEXT PRIMARY KEY, total INTEGER NOT NULL)');

// Ten orders from three customers.
for (let i = 1; i <= 10; i++) {
  const order = { boundedContext: 'sales', aggregateType: 'Order', aggregateId: `order-${i}` };
  const payload = { customer: `customer-${i % 3}`, total: i * 10 };
  await store.transaction((tx) =>
    store.append(tx, ExpectedVersion.noStream(), [{ ...order, eventType: 'OrderPlaced', payload }]),
  );
}

// `handle` runs inside the batch's transaction, which also saves the checkpoint: each event
// changes the read model exactly once, even if the worker crashes half-way.
const orderTotals: Projection<Database.Database, OrderEvent> = {
  name: 'order-totals',
  aggregateTypes: ['Order'],
  handle(event, { tx }) {
    if (event.eventType !== 'OrderPlaced') return;
    const { customer, total } = event.payload;
    tx.prepare(
      `INSERT INTO order_totals VALUES (?, ?)
       ON CONFLICT (customer) DO UPDATE SET total = total + excluded.total`,
    ).run(customer, total);
  },
};

// A worker runs until its signal aborts; here we stop it once it has caught up with the log.
const controller = new AbortController();
const running = new ProjectionProcessor(store, { batchSize: 4 }).run(orderTotals, {
  signal: controller.signal,
});
while (!(await getProjectionStatus(store, orderTotals)).caughtUp) {
  await new Promise((resolve) => setTimeout(resolve, 10));
}
controller.abort();
await running;

console.log(db.prepare('SELECT * FROM order_totals ORDER BY customer').all());
await store.close();
