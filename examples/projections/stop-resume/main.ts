// Stop a projection in the middle of its work, append more events, restart it (with a new store
// instance, as after a deploy): it resumes right after its checkpoint and counts every event once.
import { getProjectionStatus, ProjectionProcessor } from '@pup/core';
import { openExampleDatabase } from '../shared/database.js';
import {
  checkCustomerRevenue,
  createCustomerRevenue,
  customerRevenueProjection,
} from '../shared/read-models.js';
import { check, mergeFacts, runUntilCaughtUp, type ShopFacts, seedOrders } from '../shared/shop.js';

const EXAMPLE = 'stop-resume';

// First run: stop while the 300th event is being handled, as a SIGTERM would.
let db = await openExampleDatabase(EXAMPLE, { reset: true });
let facts: ShopFacts;
try {
  await createCustomerRevenue(db);
  facts = await seedOrders(db.store, 400);
  const projection = customerRevenueProjection(db);
  const controller = new AbortController();
  let handled = 0;
  await new ProjectionProcessor(db.store, { batchSize: 40 }).run(
    {
      ...projection,
      async handle(event, context) {
        if (++handled === 300) controller.abort();
        await projection.handle(event, context);
      },
    },
    { signal: controller.signal },
  );
  const status = await getProjectionStatus(db.store, projection);
  console.log(`stopped: checkpoint ${status.checkpoint}, ${status.eventsBehind} events behind`);
  // Batches of 40: the first 7 (280 events) committed; the 8th, in flight at the abort, rolled back.
  check(status.eventsBehind === facts.events - 280, 'the batch in flight was rolled back');
} finally {
  await db.close();
}

// Meanwhile, more orders arrive. Then the projection restarts.
db = await openExampleDatabase(EXAMPLE);
try {
  facts = mergeFacts(facts, await seedOrders(db.store, 100, { firstOrder: 401 }));
  const projection = customerRevenueProjection(db);
  const before = await getProjectionStatus(db.store, projection);
  console.log(`restarting ${before.eventsBehind} events behind`);
  await runUntilCaughtUp(db.store, [projection], (signal) =>
    new ProjectionProcessor(db.store, { batchSize: 40 }).run(projection, { signal }),
  );
  await checkCustomerRevenue(db, facts);
  console.log(
    `ok: resumed and caught up; ${facts.orders} orders counted exactly once (${db.kind})`,
  );
} finally {
  await db.close();
}
