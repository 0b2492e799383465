import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { ExpectedVersion } from '../../expected-version.js';
import { ProjectionProcessor } from '../../projection/processor.js';
import type { WaitForEventsOptions } from '../../types.js';
import {
  delegatingStore,
  itIf,
  NO_WAIT_FOR_EVENTS_REASON,
  requireWaitForEvents,
  sleep,
  supportsWaitForEvents,
  waitUntil,
  withFreshStore,
} from '../helpers.js';
import { limitTime } from '../time-limits.js';
import type { ConformanceHarness, ConformanceTestApi } from '../types.js';
import { CheckpointTableReadModel, recordingProjection } from './support.js';

/**
 * Registers the wake-up group: `waitForEvents` honours its timeout and signal, and wakes a caught-up
 * processor (polling every 60 s) within seconds of an append. Skipped with a reason when the
 * harness declares `capabilities.waitForEvents: false`.
 */
export function describeProjectionWakeUpConformance(
  testApi: ConformanceTestApi,
  harness: ConformanceHarness,
): void {
  const api = limitTime(
    testApi,
    harness,
    'If the store’s waitForEvents does not wake on commits, set capabilities.waitForEvents = false in the harness.',
  );
  const supported = supportsWaitForEvents(harness);
  api.describe('projections: wake-up', () => {
    itIf(
      api,
      supported,
      'waitForEvents resolves on timeout and on abort',
      NO_WAIT_FOR_EVENTS_REASON,
      () =>
        withFreshStore(harness, async ({ store }) => {
          const wait = requireWaitForEvents(store);
          let started = Date.now();
          await wait({ signal: new AbortController().signal, timeoutMs: 30 });
          assert.ok(Date.now() - started < 5_000, 'resolves once timeoutMs has passed');

          started = Date.now();
          await wait({ signal: AbortSignal.abort(), timeoutMs: 60_000 });
          assert.ok(Date.now() - started < 1_000, 'resolves at once when already aborted');

          const controller = new AbortController();
          started = Date.now();
          const waiting = wait({ signal: controller.signal, timeoutMs: 60_000 });
          setTimeout(() => controller.abort(), 20);
          await waiting;
          assert.ok(Date.now() - started < 2_000, 'resolves soon after an abort');
        }),
    );

    itIf(
      api,
      supported,
      'a caught-up processor wakes within seconds of an append, not after its poll interval',
      NO_WAIT_FOR_EVENTS_REASON,
      () =>
        withFreshStore(harness, async ({ store }) => {
          const wait = requireWaitForEvents(store);
          let waits = 0;
          let reads = 0;
          // The same store, counting waits (to append only once the processor waits) and reads
          // (a read after the append is the wake-up: the appended events may still be held
          // back from readers for a moment, so handling them is not what is measured).
          const observed = delegatingStore(store, {
            waitForEvents: (options: WaitForEventsOptions) => {
              waits++;
              return wait(options);
            },
          });
          const readEvents = observed.readEvents;
          observed.readEvents = (tx, options) => {
            reads++;
            return readEvents(tx, options);
          };
          const projection = recordingProjection(new CheckpointTableReadModel(store));
          const processor = new ProjectionProcessor(observed, { pollIntervalMs: 60_000 });
          const controller = new AbortController();
          const running = processor.run(projection, { signal: controller.signal });
          try {
            await waitUntil(() => waits > 0, 'the processor never waited for events', {
              stopped: running,
            });
            await sleep(50);
            const readsBefore = reads;
            await store.transaction((tx) =>
              store.append(tx, ExpectedVersion.any(), [
                {
                  boundedContext: 'conformance',
                  aggregateType: 'Widget',
                  aggregateId: `wake-${randomUUID()}`,
                  eventType: 'WidgetChanged',
                  payload: {},
                },
              ]),
            );
            await waitUntil(() => reads > readsBefore, 'the append did not wake the processor', {
              timeoutMs: 5_000,
              stopped: running,
            });
          } finally {
            controller.abort();
          }
          await running;
        }),
    );
  });
}
