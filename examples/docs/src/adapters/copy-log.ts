// docs/adapters.md, "Switching adapters": copies the whole log of one store into another (here
// from SQLite to the database DATABASE_URL names, or to a second SQLite database), keeping event
// ids, stream versions, metadata and timestamps. Runs on every database.
import {
  type EventStore,
  ExpectedVersion,
  iterateEvents,
  type NewEvent,
  type PersistedEvent,
} from '@pup/core';
import { createSqliteEventStore } from '@pup/sqlite';
import Database from 'better-sqlite3';
import { account, expectEqual } from '../getting-started/events.js';
import { openStore } from '../support/open-store.js';

// #region copy-log
/**
 * Appends every event of `source`, in log order, to the empty store `target`. Each event keeps
 * its id, stream, version, type, payload, metadata, trace ids and `createdAt`; global positions
 * and checkpoints are new. An event that arrives before its predecessor in the stream (possible
 * on PostgreSQL and MySQL, see concepts.md) waits for it.
 */
export async function copyLog(source: EventStore<any>, target: EventStore<any>): Promise<number> {
  const copiedVersion = new Map<string, number>(); // one number per stream
  const early = new Map<string, Map<number, PersistedEvent>>(); // by stream, by version
  let copied = 0;

  for await (const event of iterateEvents(source, { pageSize: 500 })) {
    const key = JSON.stringify([event.boundedContext, event.aggregateType, event.aggregateId]);
    const pending = early.get(key) ?? new Map<number, PersistedEvent>();
    pending.set(event.aggregateVersion, event);
    // Copy the stream's next versions as long as they are here.
    let version = copiedVersion.get(key) ?? 0;
    for (let next = pending.get(version + 1); next; next = pending.get(version + 1)) {
      const { globalPosition, aggregateVersion, checkpoint, ...fields } = next;
      const copy: NewEvent = fields; // eventId, eventVersion, metadata, createdAt, … as stored
      await target.appendToStream(ExpectedVersion.exact(aggregateVersion - 1), [copy]);
      pending.delete(aggregateVersion);
      version = aggregateVersion;
      copied++;
    }
    copiedVersion.set(key, version);
    if (pending.size > 0) early.set(key, pending);
    else early.delete(key);
  }
  if (early.size > 0) throw new Error(`${early.size} streams have gaps in the source log`);
  return copied;
}
// #endregion copy-log

// A source with a few interleaved streams.
const db = new Database(':memory:');
const source = createSqliteEventStore(db);
await source.migrate();
for (let i = 1; i <= 3; i++) {
  for (const id of ['erin', 'frank']) {
    await source.appendToStream(ExpectedVersion.exact(i - 1), [
      {
        ...account(id),
        eventType: 'MoneyDeposited',
        payload: { amount: i },
        metadata: { by: 'teller' },
        correlationId: `c-${i}`,
      },
    ]);
  }
}

// The same log with the first two versions of erin's stream swapped, as PostgreSQL or MySQL can
// return them (see concepts.md, known limitation): the copy must still succeed.
const inverted: EventStore<any> = Object.assign(Object.create(source), {
  async readEvents(tx: unknown, options: { after?: string | null; limit: number }) {
    const events = await source.readEvents(tx as Database.Database, options);
    const [first, second, third, ...rest] = events;
    return options.after == null && first && second && third
      ? [second, third, first, ...rest] // frank v1, erin v2, erin v1, …
      : events;
  },
});

const target = await openStore();
const copied = await copyLog(inverted, target.store);
const shape = (e: PersistedEvent) => [
  e.eventId,
  e.aggregateId,
  e.aggregateVersion,
  e.payload,
  e.metadata,
  e.correlationId,
  e.createdAt.toISOString(),
];
const read = (store: EventStore<any>) =>
  store.transaction((tx) => store.readEvents(tx, { after: null, limit: 100 }));
expectEqual(copied, 6, 'events copied');
const byId = (events: PersistedEvent[]) =>
  events.map(shape).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
expectEqual(byId(await read(target.store)), byId(await read(source)), 'copied events');
expectEqual(
  (await read(target.store)).slice(0, 3).map((e) => `${e.aggregateId} v${e.aggregateVersion}`),
  ['frank v1', 'erin v1', 'erin v2'],
  'order of the copy',
);
console.log(`copied ${copied} events to ${target.kind}`);

await target.close();
await source.close();
db.close();
