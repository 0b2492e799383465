// docs/operations.md, "What to monitor": one sample of a projection's health for a metrics
// system, with ProjectionProcessor and with ProjectionWorker. Runs on every database.
// #region monitor
import { type EventStore, getProjectionStatus, getProjectionWorkerStatus } from '@pup/core';
// Type-only imports: keep the one of the adapter you use.
import type { MysqlLogStatus } from '@pup/mysql';
import type { PostgresLogStatus } from '@pup/postgres';

/** What to export per projection. `segments`: pass it for projections run by ProjectionWorker. */
export async function projectionHealth(store: EventStore<any>, name: string, segments?: number) {
  const status = await getProjectionStatus(store, name, { totalPartitions: segments ?? 1 });
  const health = {
    eventsBehind: status.eventsBehind, // lag, in events: should shrink to 0 between bursts
    caughtUp: status.caughtUp,
    deadLetters: null as number | null, // events set aside by the deadLetter policy
    segmentsWithoutOwner: null as number | null, // > 0 for long: workers missing or stalled
  };
  if (segments !== undefined) {
    const workers = await getProjectionWorkerStatus(store, name, { segments });
    health.deadLetters = workers.deadLetters;
    health.segmentsWithoutOwner = workers.segmentStatus.filter((s) => s.owner === null).length;
  } else if (store.listDeadLetters) {
    const letters = await store.transaction((tx) => store.listDeadLetters!(tx, name));
    health.deadLetters = letters.length;
  }
  return health;
}

/** Why readers may be held back: PostgreSQL's oldest transaction, MySQL's unreadable events. */
export async function holdBack(store: EventStore<any>) {
  if (!store.getLogStatus) return null;
  const status: Partial<PostgresLogStatus & MysqlLogStatus> = await store.transaction((tx) =>
    store.getLogStatus!(tx),
  );
  return {
    oldestTransactionAgeMs: status.oldestRunningTransaction?.ageMs ?? null, // PostgreSQL
    oldestTransactionPid: status.oldestRunningTransaction?.pid ?? null,
    eventsHeldBack: status.eventsHeldBack ?? null, // MySQL
  };
}

// #endregion monitor

import { ExpectedVersion, ProjectionWorker, waitForProjection } from '@pup/core';
import { account, type BankEvent, expectEqual } from '../getting-started/events.js';
import { openStore } from '../support/open-store.js';

const { store, kind, close } = await openStore<BankEvent>();
const projection = { name: 'audit', handle() {} };
const controller = new AbortController();
const worker = new ProjectionWorker(store, { segments: 2, leaseTtlMs: 3_000 });
const running = worker.run(projection, { signal: controller.signal });
const appended = await store.appendToStream(ExpectedVersion.noStream(), [
  { ...account('ivy'), eventType: 'AccountOpened', payload: { owner: 'Ivy' } },
]);
await waitForProjection(store, projection, appended, { timeoutMs: 20_000 });

const health = await projectionHealth(store, 'audit', 2);
console.log(kind, health, await holdBack(store));
expectEqual(
  [health.eventsBehind, health.caughtUp, health.deadLetters, health.segmentsWithoutOwner],
  [0, true, 0, 0],
  'health of a caught-up projection',
);
controller.abort();
await running;
const unpartitioned = await projectionHealth(store, 'nobody-ran-this');
expectEqual(unpartitioned.eventsBehind, 1, 'a projection that never ran is behind by the log');
await close();
