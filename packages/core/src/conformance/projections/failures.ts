import assert from 'node:assert/strict';
import { ProjectionError } from '../../errors.js';
import { ProjectionProcessor } from '../../projection/processor.js';
import type { Projection } from '../../projection/types.js';
import {
  appendEvents,
  assertRejectsWith,
  readCheckpoint,
  readWholeLog,
  withFreshStore,
} from '../helpers.js';
import { limitTime } from '../time-limits.js';
import type { ConformanceHarness, ConformanceTestApi } from '../types.js';
import { TEST_POLL_INTERVAL_MS } from './processing.js';
import {
  assertConsistentWithCheckpoint,
  CheckpointTableReadModel,
  recordingProjection,
  runUntilCaughtUp,
} from './support.js';

/**
 * Registers the failure and stop group: a throwing handler rolls its batch back (checkpoint and
 * read model unchanged) and `run` rejects with {@link ProjectionError}; an abort in the middle of
 * a batch rolls that batch back, so checkpoint and read model always agree; a restart finishes the
 * work exactly once.
 */
export function describeProjectionFailureConformance(
  testApi: ConformanceTestApi,
  harness: ConformanceHarness,
): void {
  const api = limitTime(testApi, harness);
  api.describe('projections: failures and stops', () => {
    api.it('a failing handler rolls back its batch: checkpoint and read model unchanged', () =>
      withFreshStore(harness, async ({ store }) => {
        await appendEvents(store, [{ count: 5 }, { count: 5 }]);
        const log = await readWholeLog(store);
        const readModel = new CheckpointTableReadModel(store);
        const boom = new Error('read model rejected the event');
        const projection = recordingProjection(readModel, {
          onEvent: (_event, _context, call) => {
            if (call === 6) throw boom;
          },
        });
        const processor = new ProjectionProcessor(store, {
          batchSize: 4,
          pollIntervalMs: TEST_POLL_INTERVAL_MS,
        });

        const failing = log[5]!;
        const controller = new AbortController();
        const error = await assertRejectsWith(
          () => processor.run(projection, { signal: controller.signal }),
          ProjectionError,
          'PROJECTION_FAILED',
          {
            projectionName: projection.name,
            globalPosition: failing.globalPosition,
            checkpoint: failing.checkpoint,
          },
        ).finally(() => controller.abort());
        assert.equal(error.cause, boom, 'the handler error is the cause');
        assert.equal(
          await readCheckpoint(store, projection.name),
          log[3]!.checkpoint,
          'the checkpoint stays at the last committed batch',
        );
        await readModel.assertApplied(log, (e) => log.indexOf(e) < 4, 'after the failure');

        const fixed = recordingProjection(readModel, { name: projection.name });
        await runUntilCaughtUp(processor, fixed, log.at(-1)!.checkpoint);
        assert.equal(fixed.calls[0]!.eventId, log[4]!.eventId, 'the retry starts at the batch');
        await readModel.assertApplied(log, () => true, 'after the retry');
      }),
    );

    api.it('an abort in the middle of a batch rolls that batch back; a restart redoes it', () =>
      withFreshStore(harness, async ({ store }) => {
        await appendEvents(store, [{ count: 20 }, { count: 20 }], 4);
        const log = await readWholeLog(store);
        const readModel = new CheckpointTableReadModel(store);
        const controller = new AbortController();
        const calls: string[] = [];
        const projection: Projection = {
          name: `projection-${readModel.prefix}`,
          async handle(event, { tx, signal }) {
            calls.push(event.eventId);
            // Stop half-way through the 13th event, as a handler watching the signal would.
            if (calls.length === 13) controller.abort();
            if (signal.aborted) return;
            await readModel.apply(tx, event);
          },
        };
        const processor = new ProjectionProcessor(store, {
          batchSize: 10,
          pollIntervalMs: TEST_POLL_INTERVAL_MS,
        });

        await processor.run(projection, { signal: controller.signal });
        assert.equal(calls.length, 13, 'no event is handed to handle after the abort');
        const upTo = await assertConsistentWithCheckpoint(
          readModel,
          log,
          await readCheckpoint(store, projection.name),
          'after the abort',
        );
        assert.equal(upTo, 10, 'the interrupted batch is rolled back, the previous one stays');

        const rest = recordingProjection(readModel, { name: projection.name });
        await runUntilCaughtUp(processor, rest, log.at(-1)!.checkpoint);
        assert.equal(rest.calls[0]!.eventId, log[10]!.eventId, 'the restart redoes that batch');
        await readModel.assertApplied(log, () => true, 'after the restart');
      }),
    );

    api.it('a handler that throws because of the abort rolls back its batch; run resolves', () =>
      withFreshStore(harness, async ({ store }) => {
        await appendEvents(store, [{ count: 15 }, { count: 10 }], 5);
        const log = await readWholeLog(store);
        const readModel = new CheckpointTableReadModel(store);
        const controller = new AbortController();
        const projection = recordingProjection(readModel, {
          onEvent: (_event, { signal }, call) => {
            if (call === 13) {
              controller.abort();
              signal.throwIfAborted();
            }
          },
        });
        const processor = new ProjectionProcessor(store, {
          batchSize: 10,
          pollIntervalMs: TEST_POLL_INTERVAL_MS,
        });

        await processor.run(projection, { signal: controller.signal });
        assert.equal(
          await readCheckpoint(store, projection.name),
          log[9]!.checkpoint,
          'the interrupted batch is rolled back, the previous one stays',
        );
        await readModel.assertApplied(log, (e) => log.indexOf(e) < 10, 'after the abort');
      }),
    );
  });
}
