// One worker process: runs partition PARTITION_KEY of TOTAL_PARTITIONS of the order ledger until
// SIGTERM or SIGINT. Start one per machine or container; they coordinate only through the database.
import { ProjectionProcessor } from '@pup/core';
import { openExampleDatabase } from '../shared/database.js';
import { orderLedgerProjection } from '../shared/read-models.js';

const partitionKey = Number(process.env.PARTITION_KEY);
const totalPartitions = Number(process.env.TOTAL_PARTITIONS);

const controller = new AbortController();
process.once('SIGTERM', () => controller.abort());
process.once('SIGINT', () => controller.abort());

const db = await openExampleDatabase('partitioned');
try {
  // Invalid keys are rejected here with InvalidConfigError, before anything runs.
  const processor = new ProjectionProcessor(db.store, { partitionKey, totalPartitions });
  const projection = orderLedgerProjection(db, { worker: `worker-${partitionKey}` });
  console.log(`worker ${partitionKey}/${totalPartitions} (pid ${process.pid}) started`);
  await processor.run(projection, { signal: controller.signal });
  console.log(`worker ${partitionKey}/${totalPartitions} stopped`);
} finally {
  await db.close();
}
