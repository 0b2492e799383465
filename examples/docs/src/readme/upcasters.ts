// README.md, "Typed events and commands", upcasting: events stored by an older release in an older
// shape reach readers in the current shape, while the stored events stay as they were. Runs on
// every database.
import {
  type EventStoreOptions,
  ExpectedVersion,
  iterateEvents,
  type Projection,
  ProjectionProcessor,
  waitForProjection,
} from '@pup/core';
import { account, type BankEvent, expectEqual } from '../getting-started/events.js';
import { openStore } from '../support/open-store.js';

// The first release stored deposits in cents (untyped here: its events are not today's BankEvent).
const opened = await openStore();
const firstRelease = opened.store;
const ann = account('ann');
await firstRelease.appendToStream(ExpectedVersion.noStream(), [
  { ...ann, eventType: 'AccountOpened', payload: { owner: 'Ann' } },
  { ...ann, eventType: 'MoneyDeposited', payload: { cents: 1250 } },
]);

// Today's release stores an amount and upcasts what the first one stored.
const options: EventStoreOptions<BankEvent> = {
  // #region upcasters
  events: {
    upcasters: {
      // version 1 stored cents; version 2 stores an amount
      MoneyDeposited: { 1: (old: { cents: number }) => ({ amount: old.cents / 100 }) },
    },
  },
  // #endregion upcasters
};
const store = await opened.storeWith(options);
// Without `eventVersion` an append gets the current version, 2.
const appended = await store.appendToStream(ExpectedVersion.exact(2), [
  { ...ann, eventType: 'MoneyDeposited', payload: { amount: 7.5 } },
]);

const deposits = (
  events: readonly { eventType: string; eventVersion: number; payload: unknown }[],
) =>
  events
    .filter((event) => event.eventType === 'MoneyDeposited')
    .map((event) => [event.eventVersion, event.payload]);

// Every read upcasts: a stream, the log, iteration, projections.
const stream = await store.transaction((tx) => store.readAggregateStream(tx, ann));
let total = 0;
for (const event of stream.events) {
  if (event.eventType === 'MoneyDeposited') total += event.payload.amount;
}
expectEqual(total, 20, 'the deposits in the current shape');
expectEqual(
  deposits(stream.events),
  [
    [2, { amount: 12.5 }],
    [2, { amount: 7.5 }],
  ],
  'readAggregateStream: version 1 upcast to version 2',
);
const log = await store.transaction((tx) => store.readEvents(tx, { after: null, limit: 10 }));
expectEqual(deposits(log), deposits(stream.events), 'readEvents upcasts the same way');
const iterated = [];
for await (const event of iterateEvents(store, { pageSize: 2 })) iterated.push(event);
expectEqual(deposits(iterated), deposits(stream.events), 'iterateEvents upcasts the same way');
const handled: (typeof stream.events)[number][] = [];
const collect: Projection<unknown, BankEvent> = {
  name: 'deposits',
  handle: (event) => void handled.push(event),
};
const controller = new AbortController();
const running = new ProjectionProcessor(store).run(collect, { signal: controller.signal });
await waitForProjection(store, collect, appended, { timeoutMs: 10_000 });
controller.abort();
await running;
expectEqual(deposits(handled), deposits(stream.events), 'a projection gets them upcast too');

// The stored events never change: the first release still reads what it wrote.
const stored = await firstRelease.transaction((tx) => firstRelease.readAggregateStream(tx, ann));
expectEqual(
  deposits(stored.events),
  [
    [1, { cents: 1250 }],
    [2, { amount: 7.5 }],
  ],
  'the stored events, read without upcasters',
);
console.log(`${opened.kind}: deposits ${JSON.stringify(deposits(stream.events))}, total ${total}`);
await opened.close();
