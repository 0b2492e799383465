import assert from 'node:assert/strict';
import { ConnectionLostError, OperationAbortedError, ProjectionError } from '../../errors.js';
import { ExpectedVersion } from '../../expected-version.js';
import { ProjectionProcessor } from '../../projection/processor.js';
import { waitForProjection } from '../../projection/wait-for-projection.js';
import { hasLeaseSupport, ProjectionWorker } from '../../projection/worker.js';
import type { EventStore, PersistedEvent } from '../../types.js';
import {
  appendEvents,
  assertRejectsWith,
  deferred,
  itIf,
  makeEvent,
  makeEvents,
  readCheckpoint,
  readWholeLog,
  type StreamSpec,
  sleep,
  supportsConcurrentTransactions,
  uniqueStream,
  waitForLog,
  waitUntil,
  withFreshStore,
} from '../helpers.js';
import { limitTime } from '../time-limits.js';
import type { ConformanceHarness, ConformanceTestApi } from '../types.js';
import { TEST_POLL_INTERVAL_MS } from './processing.js';
import { CheckpointTableReadModel, processUntil, recordingProjection } from './support.js';

/** The reason of tests skipped because the store has no lease methods. */
export const NO_LEASES_REASON = 'the harness declares capabilities.leases: false';

const SEGMENTS = 4;
const LEASE_TTL_MS = 400;
const HEARTBEAT_MS = 40;

function streams(count: number): StreamSpec[] {
  return Array.from({ length: count }, (_, i) => ({ aggregateId: `w-${i}`, count: 2 }));
}

function requireLeases(store: EventStore<any>): void {
  assert.ok(
    hasLeaseSupport(store),
    'the store has no lease methods: declare capabilities.leases: false in the harness',
  );
}

function worker(store: EventStore<any>, workerId: string): ProjectionWorker<any> {
  return new ProjectionWorker(store, {
    segments: SEGMENTS,
    leaseTtlMs: LEASE_TTL_MS,
    heartbeatMs: HEARTBEAT_MS,
    workerId,
    batchSize: 5,
    pollIntervalMs: TEST_POLL_INTERVAL_MS,
  });
}

/**
 * Registers the projection workers group: segments leased from the store's lease table, each with
 * its own checkpoint; rebalancing as workers join and leave; takeover of a dead worker's segments
 * after the lease TTL; fencing (a worker that lost its lease never commits); the `retry` poison
 * policy; and `waitForProjection`. Skipped with a reason when the harness declares
 * `capabilities.leases: false`.
 */
export function describeProjectionWorkerConformance(
  testApi: ConformanceTestApi,
  harness: ConformanceHarness,
): void {
  const api = limitTime(testApi, harness);
  const leases = harness.capabilities?.leases ?? true;
  api.describe('projections: workers, leases and fencing', () => {
    itIf(
      api,
      leases,
      'two workers share the segments and apply every event once',
      NO_LEASES_REASON,
      () =>
        withFreshStore(harness, async ({ store }) => {
          requireLeases(store);
          const readModel = new CheckpointTableReadModel(store);
          const projection = recordingProjection(readModel);
          const a = worker(store, 'worker-a');
          const b = worker(store, 'worker-b');
          const controller = new AbortController();
          let log: PersistedEvent[] = [];
          const runs = [a, b].map((w) => w.run(projection, { signal: controller.signal }));
          try {
            await waitUntil(
              () => a.ownedSegments().length === 2 && b.ownedSegments().length === 2,
              () => `segments not shared: a ${a.ownedSegments()}, b ${b.ownedSegments()}`,
              { stopped: Promise.race(runs) },
            );
            // Events appended once the segments are shared: no batch is refused by a handover.
            await appendEvents(store, streams(12), 4);
            log = await readWholeLog(store);
            await waitForProjection(store, projection, log.at(-1)!.checkpoint, {
              timeoutMs: 20_000,
              totalPartitions: SEGMENTS,
            });
          } finally {
            controller.abort();
          }
          await Promise.all(runs);
          await readModel.assertApplied(log, () => true);
          assert.equal(projection.calls.length, log.length, 'no event is handled twice');
        }),
    );

    itIf(
      api,
      leases,
      'a second worker takes a share, and all again once it leaves',
      NO_LEASES_REASON,
      () =>
        withFreshStore(harness, async ({ store }) => {
          requireLeases(store);
          const readModel = new CheckpointTableReadModel(store);
          const projection = recordingProjection(readModel);
          const a = worker(store, 'worker-a');
          const b = worker(store, 'worker-b');
          const stopA = new AbortController();
          const stopB = new AbortController();
          const runA = a.run(projection, { signal: stopA.signal });
          let runB: Promise<void> | undefined;
          try {
            await waitUntil(
              () => a.ownedSegments().length === SEGMENTS,
              'a alone holds every segment',
              {
                stopped: runA,
              },
            );
            runB = b.run(projection, { signal: stopB.signal });
            await waitUntil(
              () => a.ownedSegments().length === 2 && b.ownedSegments().length === 2,
              () => `not rebalanced to 2/2: a ${a.ownedSegments()}, b ${b.ownedSegments()}`,
              { stopped: Promise.race([runA, runB]) },
            );
            stopB.abort();
            await runB;
            await waitUntil(
              () => a.ownedSegments().length === SEGMENTS,
              () => `a did not take every segment back: ${a.ownedSegments()}`,
              { stopped: runA },
            );
            await appendEvents(store, streams(6), 3);
            const log = await readWholeLog(store);
            await waitForProjection(store, projection, log.at(-1)!.checkpoint, {
              timeoutMs: 20_000,
            });
            await readModel.assertApplied(log, () => true);
          } finally {
            stopA.abort();
            stopB.abort();
          }
          await runA;
          await runB;
        }),
    );

    itIf(
      api,
      leases,
      'workers joining, leaving and cut off while events are appended apply every event once',
      NO_LEASES_REASON,
      () =>
        withFreshStore(harness, async ({ store }) => {
          requireLeases(store);
          const readModel = new CheckpointTableReadModel(store);
          const projection = recordingProjection(readModel);
          // A worker whose database connection is cut: every new transaction fails as a lost
          // connection would, until it heals. Its leases expire meanwhile.
          let cut = false;
          const cutOff: EventStore<any> = Object.create(store);
          cutOff.transaction = (fn, options) =>
            cut
              ? Promise.reject(new ConnectionLostError('test', 'cut off'))
              : store.transaction(fn, options);
          const runs: Promise<void>[] = [];
          const start = (w: ProjectionWorker<any>): AbortController => {
            const controller = new AbortController();
            runs.push(w.run(projection, { signal: controller.signal }));
            return controller;
          };
          const stops = [
            start(worker(store, 'worker-a')),
            start(
              new ProjectionWorker(cutOff, {
                segments: SEGMENTS,
                leaseTtlMs: LEASE_TTL_MS,
                heartbeatMs: HEARTBEAT_MS,
                workerId: 'worker-c',
                batchSize: 5,
                pollIntervalMs: TEST_POLL_INTERVAL_MS,
                retry: { maxRetries: 1000, initialDelayMs: 20, maxDelayMs: 50 },
              }),
            ),
          ];
          const eventIds: string[] = [];
          try {
            for (let round = 0; round < 12; round++) {
              const result = await store.appendToStream(
                ExpectedVersion.any(),
                makeEvents(uniqueStream('chaos'), 2),
              );
              eventIds.push(...result.events.map((event) => event.eventId));
              if (round === 2) stops.push(start(worker(store, 'worker-b')));
              if (round === 4) {
                // Cut off for longer than its leases last: the others take its segments over.
                cut = true;
                await sleep(LEASE_TTL_MS);
              }
              if (round === 6) stops[0]!.abort();
              if (round === 11) cut = false;
              if (round === 10) stops.push(start(worker(store, 'worker-d')));
              await sleep(60);
            }
            const log = await waitForLog(store, eventIds);
            await waitForProjection(store, projection, log.at(-1)!.checkpoint, {
              timeoutMs: 20_000,
              totalPartitions: SEGMENTS,
            });
            await readModel.assertApplied(log, (event) => eventIds.includes(event.eventId));
          } finally {
            cut = false;
            for (const stop of stops) stop.abort();
          }
          await Promise.all(runs);
        }),
    );

    itIf(
      api,
      leases,
      "a dead worker's segments are taken over after the lease TTL",
      NO_LEASES_REASON,
      () =>
        withFreshStore(harness, async ({ store }) => {
          requireLeases(store);
          await appendEvents(store, streams(8), 4);
          const log = await readWholeLog(store);
          const readModel = new CheckpointTableReadModel(store);
          const projection = recordingProjection(readModel);
          // A worker that leased every segment and died.
          const expiresAt = await store.transaction(async (tx) => {
            const { now } = await store.readLeases!(tx, projection.name);
            for (let k = 0; k < SEGMENTS; k++) {
              await store.saveLease!(tx, projection.name, {
                key: `s${k}`,
                owner: 'dead-worker',
                epoch: 1,
                expiresAt: now + LEASE_TTL_MS,
              });
            }
            return now + LEASE_TTL_MS;
          });
          const b = worker(store, 'worker-b');
          const controller = new AbortController();
          const run = b.run(projection, { signal: controller.signal });
          try {
            await waitUntil(
              () => b.ownedSegments().length === SEGMENTS,
              'b takes every segment over',
              {
                stopped: run,
              },
            );
            const taken = await store.transaction((tx) => store.readLeases!(tx, projection.name));
            assert.ok(taken.now >= expiresAt, 'no segment is taken over before its lease expired');
            for (const lease of taken.leases.filter((l) => l.key.startsWith('s'))) {
              assert.equal(lease.owner, 'worker-b');
              assert.equal(lease.epoch, 2, 'a takeover raises the epoch');
            }
            await waitForProjection(store, projection, log.at(-1)!.checkpoint, {
              timeoutMs: 20_000,
            });
          } finally {
            controller.abort();
          }
          await run;
          await readModel.assertApplied(log, () => true);
        }),
    );

    itIf(
      api,
      leases && supportsConcurrentTransactions(harness),
      'a worker whose lease was taken over mid-batch cannot commit it',
      leases
        ? 'the store queues transactions (capabilities.concurrentTransactions: false)'
        : NO_LEASES_REASON,
      () =>
        withFreshStore(harness, async ({ store }) => {
          requireLeases(store);
          const stream = uniqueStream('fenced');
          const appended = await store.appendToStream(ExpectedVersion.noStream(), [
            makeEvent(stream),
          ]);
          // Committed events may become readable a little later (PostgreSQL's horizon).
          const log = await waitForLog(
            store,
            appended.events.map((event) => event.eventId),
          );
          const readModel = new CheckpointTableReadModel(store);
          const entered = deferred();
          const release = deferred();
          const projection = recordingProjection(readModel, {
            async onEvent(_event, _context, call) {
              if (call === 1) {
                entered.resolve();
                await release.promise;
              }
            },
          });
          const stale = new ProjectionWorker(store, {
            segments: 1,
            leaseTtlMs: 60_000,
            heartbeatMs: 30_000,
            workerId: 'stale',
            pollIntervalMs: TEST_POLL_INTERVAL_MS,
          });
          const controller = new AbortController();
          const run = stale.run(projection, { signal: controller.signal });
          try {
            await entered.promise;
            // Another worker takes the segment over (as after the TTL) while the batch runs.
            await store.transaction(async (tx) => {
              const { leases: rows } = await store.readLeases!(tx, projection.name);
              const lease = rows.find((l) => l.key === 's0')!;
              await store.saveLease!(tx, projection.name, {
                ...lease,
                owner: 'successor',
                epoch: lease.epoch + 1,
              });
            });
            release.resolve();
            await waitUntil(
              () => stale.ownedSegments().length === 0,
              'the stale worker gives the segment up',
              {
                stopped: run,
              },
            );
          } finally {
            release.resolve();
            controller.abort();
          }
          await run;
          assert.equal(await readCheckpoint(store, projection.name), null, 'checkpoint unchanged');
          await readModel.assertApplied(log, () => false, 'read model of the refused batch');
        }),
    );

    api.it("the 'retry' policy retries a failing batch and then stops", () =>
      withFreshStore(harness, async ({ store }) => {
        await appendEvents(store, streams(2), 2);
        const log = await readWholeLog(store);
        const readModel = new CheckpointTableReadModel(store);
        let failures = 2;
        const flaky = {
          ...recordingProjection(readModel, {
            onEvent() {
              if (failures > 0) {
                failures -= 1;
                throw new Error('not yet');
              }
            },
          }),
          onError: { policy: 'retry', maxAttempts: 3, initialDelayMs: 5 } as const,
        };
        await processUntil(store, flaky, log.at(-1)!.checkpoint);
        await readModel.assertApplied(log, () => true);

        const failing = {
          ...recordingProjection(new CheckpointTableReadModel(store), {
            onEvent() {
              throw new Error('poison');
            },
          }),
          onError: { policy: 'retry', maxAttempts: 2, initialDelayMs: 5 } as const,
        };
        const processor = new ProjectionProcessor(store, { pollIntervalMs: TEST_POLL_INTERVAL_MS });
        await assertRejectsWith(processor.run(failing), ProjectionError, 'PROJECTION_FAILED');
        assert.equal(failing.calls.length, 2, 'one attempt and one retry');
        assert.equal(await readCheckpoint(store, failing.name), null);
      }),
    );

    itIf(
      api,
      harness.capabilities?.deadLetters ?? true,
      "the 'deadLetter' policy records a failing event with its error and moves on",
      'the harness declares capabilities.deadLetters: false',
      () =>
        withFreshStore(harness, async ({ store }) => {
          assert.equal(
            typeof store.saveDeadLetter,
            'function',
            'the store has no saveDeadLetter: declare capabilities.deadLetters: false',
          );
          await appendEvents(store, streams(2), 2);
          const log = await readWholeLog(store);
          const poison = log[1]!;
          const readModel = new CheckpointTableReadModel(store);
          const projection = {
            ...recordingProjection(readModel, {
              onEvent(event) {
                if (event.eventId === poison.eventId) throw new Error('poison event');
              },
            }),
            onError: { policy: 'deadLetter', maxAttempts: 2, initialDelayMs: 5 } as const,
          };
          await processUntil(store, projection, log.at(-1)!.checkpoint);
          await readModel.assertApplied(log, (event) => event.eventId !== poison.eventId);
          const deadLetters = await store.transaction((tx) =>
            store.listDeadLetters!(tx, projection.name),
          );
          assert.equal(deadLetters.length, 1);
          assert.equal(deadLetters[0]!.projectionName, projection.name);
          assert.equal(deadLetters[0]!.globalPosition, poison.globalPosition);
          assert.equal(deadLetters[0]!.checkpoint, poison.checkpoint);
          assert.equal(deadLetters[0]!.error, 'poison event');
          assert.ok(Number.isSafeInteger(deadLetters[0]!.failedAt));
          assert.equal(
            projection.calls.filter((event) => event.eventId === poison.eventId).length,
            2,
            'two attempts before the event is set aside',
          );
        }),
    );

    api.it('waitForProjection resolves once the projection passed a write, and times out', () =>
      withFreshStore(harness, async ({ store }) => {
        const readModel = new CheckpointTableReadModel(store);
        const projection = recordingProjection(readModel);
        const result = await store.appendToStream(ExpectedVersion.any(), [
          makeEvent(uniqueStream('ryw')),
        ]);
        await assertRejectsWith(
          waitForProjection(store, projection, result, { timeoutMs: 100, pollIntervalMs: 10 }),
          OperationAbortedError,
          'ABORTED',
        );
        const processor = new ProjectionProcessor(store, { pollIntervalMs: TEST_POLL_INTERVAL_MS });
        const controller = new AbortController();
        const run = processor.run(projection, { signal: controller.signal });
        try {
          await waitForProjection(store, projection, result, { timeoutMs: 20_000 });
          const counts = await readModel.counts(result.events);
          assert.equal(counts.get(result.events[0]!.eventId), 1, 'the write is in the read model');
        } finally {
          controller.abort();
        }
        await run;
      }),
    );
  });
}
