import { randomUUID } from 'node:crypto';
import { type EventStore, ExpectedVersion, type PersistedEvent } from '@pup/core';
import { expect } from 'vitest';

/**
 * Uses `store` on tables created from a generated file: appends two events, reads them back by
 * stream and in log order, saves and reads a checkpoint; then checks that `store.migrate()`
 * leaves the catalog as it was (`catalog` takes a snapshot).
 */
export async function expectStoreWorksAndMigrateIsNoop(
  store: EventStore<any>,
  catalog: () => Promise<unknown>,
): Promise<void> {
  const stream = {
    boundedContext: 'migrate-gen',
    aggregateType: 'Check',
    aggregateId: randomUUID(),
  };
  const appended = await store.transaction((tx) =>
    store.append(tx, ExpectedVersion.noStream(), [
      { ...stream, eventType: 'Opened', payload: { step: 1 }, metadata: { by: 'test' } },
      { ...stream, eventType: 'Closed', payload: { step: 2 } },
    ]),
  );
  expect(appended.toVersion).toBe(2);

  const read = await store.transaction((tx) => store.readAggregateStream(tx, stream));
  expect(read.version).toBe(2);
  expect(read.events.map((e) => [e.eventType, e.payload, e.metadata])).toEqual([
    ['Opened', { step: 1 }, { by: 'test' }],
    ['Closed', { step: 2 }, null],
  ]);

  // PostgreSQL readers wait for every older transaction of the cluster: poll, with a deadline.
  let log: PersistedEvent[] = [];
  for (const deadline = Date.now() + 30_000; log.length < 2 && Date.now() < deadline; ) {
    log = await store.transaction((tx) => store.readEvents(tx, { after: null, limit: 10 }));
    if (log.length < 2) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect(log.map((e) => e.eventId)).toEqual(read.events.map((e) => e.eventId));

  const checkpoint = log[1]!.checkpoint;
  await store.transaction((tx) => store.saveCheckpoint(tx, 'migrate-gen-check', checkpoint));
  expect(await store.transaction((tx) => store.getCheckpoint(tx, 'migrate-gen-check'))).toBe(
    checkpoint,
  );

  const before = await catalog();
  await store.migrate();
  expect(await catalog()).toEqual(before);
}
