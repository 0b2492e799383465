// README.md, "Scaling out: self-balancing workers": a worker process that runs a projection until
// SIGTERM, and read-your-writes with waitForProjection. The process plays the API handler and the
// operator too: it places an order while the worker runs, waits until the read model has it,
// checks the row, and sends itself SIGTERM. Runs on every database.
import {
  type DomainEvent,
  ExpectedVersion,
  getProjectionWorkerStatus,
  type Projection,
} from '@pup/core';
import { expectEqual } from '../getting-started/events.js';
import { openStore } from '../support/open-store.js';

type OrderEvent = DomainEvent<'OrderPlaced', { customer: string; total: number }>;

const { store, kind, query, close } = await openStore<OrderEvent>();
// One row per order: the primary key makes an event applied twice fail the batch.
await query(
  null,
  `CREATE TABLE placed_orders (
     order_id VARCHAR(100) PRIMARY KEY, customer VARCHAR(100) NOT NULL, total INTEGER NOT NULL)`,
);

const orderTotals: Projection<unknown, OrderEvent> = {
  name: 'order-totals',
  aggregateTypes: ['Order'],
  async handle(event, { tx }) {
    // Written through `tx`: the row commits with the batch's checkpoint.
    await query(tx, 'INSERT INTO placed_orders VALUES (?, ?, ?)', [
      event.aggregateId,
      event.payload.customer,
      event.payload.total,
    ]);
  },
};

const order = (aggregateId: string) => ({
  boundedContext: 'sales',
  aggregateType: 'Order',
  aggregateId,
});
// Orders placed before the worker starts: it catches up with them first.
for (let i = 1; i <= 30; i++) {
  await store.appendToStream(ExpectedVersion.noStream(), [
    {
      ...order(`order-${i}`),
      eventType: 'OrderPlaced',
      payload: { customer: `c${i % 4}`, total: i },
    },
  ]);
}

const orderPlaced = {
  ...order('order-31'),
  eventType: 'OrderPlaced' as const,
  payload: { customer: 'ada', total: 42 },
};
let readBack: unknown;

/** The API handler: an order whose row it reads back at once, then SIGTERM as an operator would. */
async function placeOrder() {
  // #region read-your-writes
  const result = await store.appendToStream(ExpectedVersion.noStream(), [orderPlaced]);
  await waitForProjection(store, orderTotals, result, { timeoutMs: 5_000 });
  // #endregion read-your-writes
  readBack = await query(null, 'SELECT customer, total FROM placed_orders WHERE order_id = ?', [
    'order-31',
  ]);
  process.kill(process.pid, 'SIGTERM');
}
const request = placeOrder();

// #region worker
import { ProjectionWorker, waitForProjection } from '@pup/core';

const worker = new ProjectionWorker(store, {
  segments: 8, // fixed per projection: at most 8 workers share the work
  leaseTtlMs: 10_000, // a dead or stalled worker's segments move after this long
  heartbeatMs: 3_000, // renew leases and rebalance this often (default: a third of the TTL)
  batchSize: 100, // and every other ProjectionProcessor option
});
const controller = new AbortController();
process.once('SIGTERM', () => controller.abort());
await worker.run(orderTotals, { signal: controller.signal });
// #endregion worker

await request;
const row = (readBack as { customer: string; total: unknown }[]).map((r) => ({
  customer: r.customer,
  total: Number(r.total),
}));
expectEqual(row, [{ customer: 'ada', total: 42 }], 'the row read right after waitForProjection');
const rows = await query(null, 'SELECT order_id FROM placed_orders');
expectEqual(rows.length, 31, 'rows of the read model: each order once');
const status = await getProjectionWorkerStatus(store, orderTotals, { segments: 8 });
expectEqual(
  [status.segmentStatus.length, status.segmentStatus.filter((s) => s.owner !== null).length],
  [8, 0],
  'segments, and segments still leased after SIGTERM (a clean stop releases them)',
);
console.log(`${kind}: worker stopped by SIGTERM after the read model had order-31`);
await close();
