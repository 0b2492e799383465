// One projection, one worker: catch a read model up from the log, then stop (or keep following
// the log with --follow until Ctrl-C / SIGTERM).
import { getProjectionStatus, ProjectionProcessor } from '@pup/core';
import { openExampleDatabase } from '../shared/database.js';
import {
  checkCustomerRevenue,
  createCustomerRevenue,
  customerRevenueProjection,
  readCustomerRevenue,
} from '../shared/read-models.js';
import { money, runUntilCaughtUp, seedOrders } from '../shared/shop.js';

const db = await openExampleDatabase('single-worker', { reset: true });
try {
  await createCustomerRevenue(db);
  const facts = await seedOrders(db.store, 500);
  console.log(`appended ${facts.events} events for ${facts.orders} orders (${db.kind})`);

  const projection = customerRevenueProjection(db);
  const processor = new ProjectionProcessor(db.store, { batchSize: 100 });

  if (process.argv.includes('--follow')) {
    // A long-running worker: stops after the batch in flight when asked to.
    const controller = new AbortController();
    process.once('SIGINT', () => controller.abort());
    process.once('SIGTERM', () => controller.abort());
    console.log('following the log; Ctrl-C to stop');
    await processor.run(projection, { signal: controller.signal });
  } else {
    await runUntilCaughtUp(db.store, [projection], (signal) =>
      processor.run(projection, { signal }),
    );
  }

  for (const row of await readCustomerRevenue(db)) {
    console.log(
      `${row.customer.padEnd(6)} ${String(row.orders).padStart(4)} orders  ${money(row.revenue)}`,
    );
  }
  const status = await getProjectionStatus(db.store, projection);
  console.log(
    `checkpoint ${status.checkpoint}, head position ${status.headPosition}, ${status.eventsBehind} events behind`,
  );
  await checkCustomerRevenue(db, facts);
  console.log('ok: every order counted exactly once');
} finally {
  await db.close();
}
