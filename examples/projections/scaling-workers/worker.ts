// One worker process: runs the projection as a self-balancing ProjectionWorker until SIGTERM or
// SIGINT, then releases its segments. Start any number of them, on any machines; they share the
// segments through the database's lease table.
import { ProjectionWorker } from '@pup/core';
import { openExampleDatabase } from '../shared/database.js';
import {
  EXAMPLE,
  eventApplicationsProjection,
  HEARTBEAT_MS,
  LEASE_TTL_MS,
  SEGMENTS,
} from './shared.js';

const workerId = process.env.WORKER_ID ?? `worker-${process.pid}`;
const controller = new AbortController();
process.once('SIGTERM', () => controller.abort());
process.once('SIGINT', () => controller.abort());

const db = await openExampleDatabase(EXAMPLE);
try {
  const worker = new ProjectionWorker(db.store, {
    workerId,
    segments: SEGMENTS,
    leaseTtlMs: LEASE_TTL_MS,
    heartbeatMs: HEARTBEAT_MS,
    batchSize: 50,
    pollIntervalMs: 50,
  });
  console.log(`${workerId} (pid ${process.pid}) started`);
  await worker.run(eventApplicationsProjection(db), { signal: controller.signal });
  console.log(`${workerId} stopped, its segments released`);
} finally {
  await db.close();
}
