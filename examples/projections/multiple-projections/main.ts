// Several projections over the same log, each with its own processor and checkpoint, run together
// by runProjections: the first failure would stop them all.
import { type Projection, ProjectionProcessor, runProjections } from '@pup/core';
import { openExampleDatabase } from '../shared/database.js';
import {
  checkCustomerRevenue,
  checkOrderLedger,
  createCustomerRevenue,
  createOrderLedger,
  customerRevenueProjection,
  orderLedgerProjection,
} from '../shared/read-models.js';
import { check, runUntilCaughtUp, seedOrders } from '../shared/shop.js';

const db = await openExampleDatabase('multiple-projections', { reset: true });
try {
  await createCustomerRevenue(db);
  await createOrderLedger(db);
  const eventCounts = db.table('event_counts');
  await db.ddl(`CREATE TABLE IF NOT EXISTS ${eventCounts} (
    event_type VARCHAR(64) PRIMARY KEY,
    events INTEGER NOT NULL
  )`);
  const facts = await seedOrders(db.store, 400);

  // A third, inline projection: how many events of each type.
  const eventTypes: Projection = {
    name: 'event-type-counts',
    async handle(event, { tx }) {
      await db.increment(tx, eventCounts, { event_type: event.eventType }, { events: 1 });
    },
  };
  const projections = [customerRevenueProjection(db), orderLedgerProjection(db), eventTypes];
  const entries = projections.map((projection, i) => ({
    projection,
    // Each projection can have its own batch size, poll interval and logger.
    processor: new ProjectionProcessor(db.store, { batchSize: [50, 200, 500][i] }),
  }));

  await runUntilCaughtUp(db.store, projections, (signal) => runProjections(entries, { signal }));

  await checkCustomerRevenue(db, facts);
  await checkOrderLedger(db, facts);
  const counts = await db.query<{ event_type: string; events: number }>(
    null,
    `SELECT event_type, events FROM ${eventCounts} ORDER BY event_type`,
  );
  for (const row of counts) console.log(`${row.event_type.padEnd(13)} ${row.events}`);
  check(
    counts.reduce((sum, row) => sum + Number(row.events), 0) === facts.events,
    'every event counted once',
  );
  console.log(
    `ok: ${projections.length} projections caught up on ${facts.events} events (${db.kind})`,
  );
} finally {
  await db.close();
}
