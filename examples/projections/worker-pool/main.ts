// One projection split into partitions, all running in this process: each partition owns the
// orders whose id hashes to it (FNV-1a, as in pupsourcing) and keeps its own checkpoint
// `<name>_p<key>`.
import { getProjectionStatus, runProjectionPartitions } from '@pup/core';
import { openExampleDatabase } from '../shared/database.js';
import {
  checkOrderLedger,
  createOrderLedger,
  orderLedgerProjection,
} from '../shared/read-models.js';
import { runUntilCaughtUp, seedOrders } from '../shared/shop.js';

const PARTITIONS = 4;

const db = await openExampleDatabase('worker-pool', { reset: true });
try {
  await createOrderLedger(db);
  const facts = await seedOrders(db.store, 600);
  // Keyed by order (the aggregate the partitions split on): partitions never share a row.
  const projection = orderLedgerProjection(db);

  await runUntilCaughtUp(
    db.store,
    [{ name: projection.name, totalPartitions: PARTITIONS }],
    (signal) =>
      runProjectionPartitions(db.store, projection, PARTITIONS, { signal, batchSize: 50 }),
  );

  const status = await getProjectionStatus(db.store, projection, { totalPartitions: PARTITIONS });
  for (const partition of status.partitions) {
    console.log(
      `${partition.checkpointName}: checkpoint ${partition.checkpoint}, ${partition.eventsBehind} behind`,
    );
  }
  await checkOrderLedger(db, facts);
  console.log(
    `ok: ${PARTITIONS} partitions handled ${facts.orders} orders exactly once (${db.kind})`,
  );
} finally {
  await db.close();
}
