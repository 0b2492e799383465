// pino wired to pup's Logger: the processor logs start and stop (info), every committed batch
// (debug) and failures (error). A second projection fails on a bad event to show the error path.
import { getProjectionStatus, type Logger, ProjectionError, ProjectionProcessor } from '@pup/core';
import pino from 'pino';
import { openExampleDatabase } from '../shared/database.js';
import {
  checkCustomerRevenue,
  createCustomerRevenue,
  customerRevenueProjection,
} from '../shared/read-models.js';
import { check, runUntilCaughtUp, seedOrders } from '../shared/shop.js';

const log = pino({
  level: process.env.LOG_LEVEL ?? 'debug',
  // pup puts errors under `error`; serialize them like pino's own `err`.
  serializers: { error: pino.stdSerializers.err },
});

/** pup's Logger on top of pino: pino takes the fields first, then the message. */
function pupLogger(logger: pino.Logger): Logger {
  return {
    debug: (message, fields) => logger.debug(fields ?? {}, message),
    info: (message, fields) => logger.info(fields ?? {}, message),
    warn: (message, fields) => logger.warn(fields ?? {}, message),
    error: (message, fields) => logger.error(fields ?? {}, message),
  };
}

const logger = pupLogger(log.child({ component: 'pup' }));
const db = await openExampleDatabase('with-logging', { reset: true, logger });
try {
  await createCustomerRevenue(db);
  const facts = await seedOrders(db.store, 200);

  const projection = customerRevenueProjection(db);
  const processor = new ProjectionProcessor(db.store, { batchSize: 100, logger });
  await runUntilCaughtUp(db.store, [projection], (signal) => processor.run(projection, { signal }));
  await checkCustomerRevenue(db, facts);

  // A projection whose handler throws on one event: the batch is rolled back, run() rejects with
  // a ProjectionError, and the processor logs it at error level.
  const failing = new ProjectionProcessor(db.store, { batchSize: 100, logger });
  try {
    await failing.run({
      name: 'big-order-alerts',
      handle(event) {
        if (event.aggregateId === 'order-150') {
          throw new Error(`cannot page anyone about ${event.aggregateId}`);
        }
      },
    });
    check(false, 'the failing projection should have failed');
  } catch (error) {
    check(error instanceof ProjectionError, 'a ProjectionError');
    const failure = error as ProjectionError;
    const status = await getProjectionStatus(db.store, 'big-order-alerts');
    check(
      status.checkpoint === null || status.checkpoint < failure.checkpoint!,
      'the failed batch left the checkpoint before the failing event',
    );
    log.warn(
      {
        projection: failure.projectionName,
        globalPosition: failure.globalPosition,
        cause: (failure.cause as Error).message,
      },
      'projection stopped by a failing handler, as expected; fix and restart it',
    );
  }
  log.info('ok: logging example done');
} finally {
  await db.close();
}
