import assert from 'node:assert/strict';
import { ProjectionProcessor } from '../../projection/processor.js';
import { runProjections } from '../../projection/runner.js';
import { appendEvents, readCheckpoint, readWholeLog, withFreshStore } from '../helpers.js';
import { limitTime } from '../time-limits.js';
import type { ConformanceHarness, ConformanceTestApi } from '../types.js';
import { TEST_POLL_INTERVAL_MS } from './processing.js';
import { CheckpointTableReadModel, recordingProjection, runUntilCheckpoints } from './support.js';

/**
 * Registers the scoped projections group: a projection limited to aggregate types and/or bounded
 * contexts sees exactly the matching events, and the events it skips still advance its
 * checkpoint (the log here ends with an event outside every scope).
 */
export function describeProjectionScopeConformance(
  testApi: ConformanceTestApi,
  harness: ConformanceHarness,
): void {
  const api = limitTime(testApi, harness);
  api.describe('projections: scope', () => {
    api.it(
      'hands only in-scope events to handle; skipped events still advance the checkpoint',
      () =>
        withFreshStore(harness, async ({ store }) => {
          await appendEvents(store, [
            { boundedContext: 'sales', aggregateType: 'Order', count: 5 },
            { boundedContext: 'billing', aggregateType: 'Order', count: 4 },
            { boundedContext: 'billing', aggregateType: 'Invoice', count: 6 },
            { boundedContext: 'sales', aggregateType: 'Invoice', count: 3 },
          ]);
          await appendEvents(store, [
            { boundedContext: 'shipping', aggregateType: 'Parcel', count: 2 },
          ]);
          const log = await readWholeLog(store);
          const last = log.at(-1)!;
          assert.equal(last.boundedContext, 'shipping', 'the log ends out of every scope');

          const cases = [
            { label: 'aggregateTypes [Order]', aggregateTypes: ['Order'] },
            { label: 'boundedContexts [billing]', boundedContexts: ['billing'] },
            {
              label: 'aggregateTypes [Order, Invoice] and boundedContexts [sales]',
              aggregateTypes: ['Order', 'Invoice'],
              boundedContexts: ['sales'],
            },
            { label: 'empty scope lists (everything)', aggregateTypes: [], boundedContexts: [] },
          ].map((scope) => {
            const readModel = new CheckpointTableReadModel(store);
            const projection = recordingProjection(readModel, scope);
            const matches = (e: (typeof log)[number]) =>
              (!scope.aggregateTypes?.length || scope.aggregateTypes.includes(e.aggregateType)) &&
              (!scope.boundedContexts?.length || scope.boundedContexts.includes(e.boundedContext));
            return { ...scope, readModel, projection, matches };
          });
          const entries = cases.map(({ projection }) => ({
            projection,
            processor: new ProjectionProcessor(store, {
              batchSize: 5,
              pollIntervalMs: TEST_POLL_INTERVAL_MS,
            }),
          }));

          await runUntilCheckpoints(
            (signal) => runProjections(entries, { signal }),
            store,
            cases.map((c) => c.projection.name),
            last.checkpoint,
          );

          for (const c of cases) {
            assert.deepEqual(
              c.projection.calls.map((e) => e.eventId),
              log.filter(c.matches).map((e) => e.eventId),
              `${c.label}: handle sees exactly the matching events, in log order`,
            );
            await c.readModel.assertApplied(log, c.matches, c.label);
            assert.equal(
              await readCheckpoint(store, c.projection.name),
              last.checkpoint,
              `${c.label}: the checkpoint reaches the last event even though it is out of scope`,
            );
          }
        }),
    );
  });
}
