import assert from 'node:assert/strict';
import { ProjectionProcessor } from '../../projection/processor.js';
import {
  appendEvents,
  readCheckpoint,
  readWholeLog,
  sleep,
  waitUntil,
  withFreshStore,
} from '../helpers.js';
import { limitTime } from '../time-limits.js';
import type { ConformanceHarness, ConformanceTestApi } from '../types.js';
import {
  CheckpointTableReadModel,
  recordingProjection,
  runUntilCaughtUp,
  TEST_POLL_INTERVAL_MS,
} from './support.js';

export { TEST_POLL_INTERVAL_MS };

/**
 * Registers the projection processing group: every event reaches the handler once and in log
 * order, its effect on a read model written through the batch's transaction is there exactly
 * once, a restarted projection resumes after its checkpoint, and a stop is prompt.
 */
export function describeProjectionProcessingConformance(
  testApi: ConformanceTestApi,
  harness: ConformanceHarness,
): void {
  const api = limitTime(testApi, harness);
  api.describe('projections: processing', () => {
    api.it('applies each event exactly once through the batch transaction, in log order', () =>
      withFreshStore(harness, async ({ store }) => {
        await appendEvents(store, [{ count: 10 }, { count: 10 }, { count: 10 }]);
        const log = await readWholeLog(store);
        assert.equal(log.length, 30);
        const readModel = new CheckpointTableReadModel(store);
        const projection = recordingProjection(readModel);
        const processor = new ProjectionProcessor(store, {
          batchSize: 7,
          pollIntervalMs: TEST_POLL_INTERVAL_MS,
        });

        await runUntilCaughtUp(processor, projection, log.at(-1)!.checkpoint);

        assert.deepEqual(
          projection.calls.map((e) => e.globalPosition),
          log.map((e) => e.globalPosition),
          'the handler sees every event once, in log order',
        );
        assert.deepEqual(
          projection.calls.map((e) => e.eventId),
          log.map((e) => e.eventId),
        );
        await readModel.assertApplied(log, () => true);
        assert.equal(await readCheckpoint(store, projection.name), log.at(-1)!.checkpoint);
      }),
    );

    api.it('resumes after a stop from its checkpoint, handling only newer events', () =>
      withFreshStore(harness, async ({ store }) => {
        await appendEvents(store, [{ count: 7 }, { count: 5 }]);
        const first = await readWholeLog(store);
        const readModel = new CheckpointTableReadModel(store);
        const before = recordingProjection(readModel);
        const config = { batchSize: 4, pollIntervalMs: TEST_POLL_INTERVAL_MS };
        await runUntilCaughtUp(
          new ProjectionProcessor(store, config),
          before,
          first.at(-1)!.checkpoint,
        );

        await appendEvents(store, [{ count: 6 }, { count: 3 }]);
        const all = await readWholeLog(store);
        assert.equal(all.length, 21);
        const after = recordingProjection(readModel, { name: before.name });
        await runUntilCaughtUp(
          new ProjectionProcessor(store, config),
          after,
          all.at(-1)!.checkpoint,
        );

        assert.deepEqual(
          after.calls.map((e) => e.eventId),
          all.slice(first.length).map((e) => e.eventId),
          'the restarted projection starts right after its checkpoint',
        );
        await readModel.assertApplied(all, () => true);
      }),
    );

    api.it('does nothing and resolves when the signal is already aborted', () =>
      withFreshStore(harness, async ({ store }) => {
        await appendEvents(store, [{ count: 3 }]);
        const projection = recordingProjection(new CheckpointTableReadModel(store));
        await new ProjectionProcessor(store).run(projection, { signal: AbortSignal.abort() });
        assert.equal(projection.calls.length, 0);
        assert.equal(await readCheckpoint(store, projection.name), null);
      }),
    );

    api.it('stops promptly while waiting for new events', () =>
      withFreshStore(harness, async ({ store }) => {
        await appendEvents(store, [{ count: 2 }]);
        const log = await readWholeLog(store);
        const projection = recordingProjection(new CheckpointTableReadModel(store));
        const processor = new ProjectionProcessor(store, { pollIntervalMs: 60_000 });
        const controller = new AbortController();
        const running = processor.run(projection, { signal: controller.signal });
        let stoppedAt = Date.now();
        try {
          await waitUntil(
            async () => (await readCheckpoint(store, projection.name)) === log.at(-1)!.checkpoint,
            'the projection did not catch up',
            { stopped: running },
          );
          await sleep(50);
        } finally {
          stoppedAt = Date.now();
          controller.abort();
        }
        await running;
        const took = Date.now() - stoppedAt;
        assert.ok(took < 2_000, `run took ${took} ms to stop while waiting (poll interval 60 s)`);
      }),
    );
  });
}
