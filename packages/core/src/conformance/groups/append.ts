import assert from 'node:assert/strict';
import { DuplicateEventIdError } from '../../errors.js';
import { ExpectedVersion } from '../../expected-version.js';
import type { AppendResult, PersistedEvent, StreamRef } from '../../types.js';
import { isUuid } from '../../uuid.js';
import {
  appendInTransaction,
  assertNothingWritten,
  assertPositiveInteger,
  assertRejectsWith,
  assertRowsAdded,
  assertStrictlyIncreasing,
  makeEvent,
  makeEvents,
  readStream,
  snapshotStore,
  uniqueStream,
  useGroupStore,
  waitForLog,
} from '../helpers.js';
import { limitTime } from '../time-limits.js';
import type { ConformanceHarness, ConformanceTestApi } from '../types.js';

/** Checks every field of a persisted event has the type the contract promises. */
function assertEventShape(event: PersistedEvent, stream: StreamRef): void {
  assert.equal(event.boundedContext, stream.boundedContext);
  assert.equal(event.aggregateType, stream.aggregateType);
  assert.equal(event.aggregateId, stream.aggregateId);
  assertPositiveInteger(event.globalPosition, 'globalPosition');
  assertPositiveInteger(event.aggregateVersion, 'aggregateVersion');
  assertPositiveInteger(event.eventVersion, 'eventVersion');
  assert.equal(typeof event.checkpoint, 'string', 'checkpoint must be a string');
  assert.ok(event.checkpoint.length > 0, 'checkpoint must not be empty');
  assert.ok(isUuid(event.eventId), `eventId must be a UUID, got ${event.eventId}`);
  assert.equal(typeof event.eventType, 'string');
  assert.ok(event.createdAt instanceof Date, 'createdAt must be a Date');
  assert.ok(!Number.isNaN(event.createdAt.getTime()), 'createdAt must be a valid Date');
  for (const field of ['traceId', 'correlationId', 'causationId'] as const) {
    assert.ok(
      event[field] === null || typeof event[field] === 'string',
      `${field} must be a string or null`,
    );
  }
  assert.ok(
    event.metadata === null ||
      (typeof event.metadata === 'object' && !Array.isArray(event.metadata)),
    'metadata must be an object or null',
  );
}

function assertResultConsistent(result: AppendResult, stream: StreamRef, fromVersion: number) {
  const count = result.events.length;
  assert.equal(result.fromVersion, fromVersion, 'fromVersion');
  assert.equal(result.toVersion, fromVersion + count, 'toVersion');
  assert.deepEqual(
    result.events.map((e) => e.aggregateVersion),
    Array.from({ length: count }, (_, i) => fromVersion + i + 1),
    'each event gets the next consecutive version',
  );
  assert.deepEqual(
    result.globalPositions,
    result.events.map((e) => e.globalPosition),
    'globalPositions lists the events’ positions in order',
  );
  for (const event of result.events) assertEventShape(event, stream);
  assert.equal(new Set(result.globalPositions).size, count, 'global positions are unique');
  for (let i = 1; i < count; i++) {
    assert.ok(
      result.globalPositions[i]! > result.globalPositions[i - 1]!,
      'positions increase within one append',
    );
  }
  assertStrictlyIncreasing(result.events.map((e) => e.checkpoint));
}

/**
 * Registers the append group: consecutive versions, every {@link AppendResult} field, the
 * atomicity of a multi-event call, and the round trip of timestamps and every optional field.
 */
export function describeAppendConformance(
  testApi: ConformanceTestApi,
  harness: ConformanceHarness,
): void {
  const api = limitTime(testApi, harness);
  api.describe('append', () => {
    const subject = useGroupStore(api, harness);

    api.it('gives a new stream versions 1..n and fills every AppendResult field', async () => {
      const stream = uniqueStream('append-new');
      const result = await appendInTransaction(
        subject().store,
        ExpectedVersion.noStream(),
        makeEvents(stream, 3),
      );
      assert.equal(result.events.length, 3);
      assertResultConsistent(result, stream, 0);
      assert.deepEqual(
        result.events.map((e) => e.payload),
        [{ n: 1 }, { n: 2 }, { n: 3 }],
      );
    });

    api.it('continues an existing stream with consecutive versions', async () => {
      const { store } = subject();
      const stream = uniqueStream('append-continue');
      const first = await appendInTransaction(store, ExpectedVersion.any(), makeEvents(stream, 2));
      const second = await appendInTransaction(store, ExpectedVersion.exact(2), [
        makeEvent(stream, { eventType: 'Third' }),
      ]);
      const third = await appendInTransaction(store, ExpectedVersion.any(), makeEvents(stream, 2));
      assertResultConsistent(first, stream, 0);
      assertResultConsistent(second, stream, 2);
      assertResultConsistent(third, stream, 3);
      const positions = [first, second, third].flatMap((r) => r.globalPositions);
      for (let i = 1; i < positions.length; i++) {
        assert.ok(positions[i]! > positions[i - 1]!, 'later appends get higher positions');
      }
      const read = await readStream(store, stream);
      assert.equal(read.version, 5);
      assert.deepEqual(
        read.events.map((e) => e.aggregateVersion),
        [1, 2, 3, 4, 5],
      );
    });

    api.it('returns exactly what readAggregateStream and readEvents read back', async () => {
      const { store } = subject();
      const stream = uniqueStream('append-readback');
      const result = await appendInTransaction(store, ExpectedVersion.noStream(), [
        makeEvent(stream, { payload: { a: 1 } }),
        makeEvent(stream, {
          eventType: 'Other',
          payload: ['x', 2, null],
          metadata: { who: 'tester' },
          traceId: 'trace-1',
        }),
      ]);
      const read = await readStream(store, stream);
      assert.deepEqual(read.events, result.events);
      const fromLog = await waitForLog(
        store,
        result.events.map((e) => e.eventId),
      );
      const mine = fromLog.filter((e) => e.aggregateId === stream.aggregateId);
      assert.deepEqual(mine, result.events);
    });

    api.it('round-trips every optional field', async () => {
      const { store } = subject();
      const stream = uniqueStream('append-optional');
      const eventId = '0190f5f2-3c4d-7e8f-9a0b-1c2d3e4f5a6b';
      const createdAt = new Date('2024-02-29T23:59:58.123Z');
      const metadata = { userId: 'u-1', nested: { roles: ['admin', 'ops'], level: 3 } };
      const result = await appendInTransaction(store, ExpectedVersion.noStream(), [
        makeEvent(stream, {
          eventType: 'WidgetRenamed',
          payload: { name: 'new' },
          eventId,
          eventVersion: 3,
          metadata,
          traceId: 'trace-abc',
          correlationId: 'corr-def',
          causationId: 'cause-ghi',
          createdAt,
        }),
      ]);
      const [event] = (await readStream(store, stream)).events;
      assert.ok(event);
      assert.deepEqual(event, result.events[0]);
      assert.equal(event.eventId, eventId);
      assert.equal(event.eventType, 'WidgetRenamed');
      assert.equal(event.eventVersion, 3);
      assert.deepEqual(event.metadata, metadata);
      assert.equal(event.traceId, 'trace-abc');
      assert.equal(event.correlationId, 'corr-def');
      assert.equal(event.causationId, 'cause-ghi');
      assert.equal(event.createdAt.getTime(), createdAt.getTime(), 'createdAt keeps milliseconds');
      assert.deepEqual(event.payload, { name: 'new' });
    });

    api.it(
      'fills defaults: eventVersion 1, null optionals, a UUID eventId, createdAt now',
      async () => {
        const { store } = subject();
        const stream = uniqueStream('append-defaults');
        const before = Date.now();
        await appendInTransaction(store, ExpectedVersion.noStream(), [
          makeEvent(stream),
          makeEvent(stream, {
            metadata: null,
            traceId: null,
            correlationId: null,
            causationId: null,
          }),
        ]);
        const after = Date.now();
        const { events } = await readStream(store, stream);
        assert.equal(events.length, 2);
        for (const event of events) {
          assert.equal(event.eventVersion, 1);
          assert.equal(event.metadata, null);
          assert.equal(event.traceId, null);
          assert.equal(event.correlationId, null);
          assert.equal(event.causationId, null);
          assert.ok(isUuid(event.eventId), `generated eventId ${event.eventId} is a UUID`);
          const time = event.createdAt.getTime();
          // Tolerance for a database clock and for timestamp truncation.
          assert.ok(
            time >= before - 2000 && time <= after + 2000,
            `default createdAt ${event.createdAt.toISOString()} is now`,
          );
        }
        assert.notEqual(events[0]!.eventId, events[1]!.eventId, 'generated ids are distinct');
      },
    );

    api.it('keeps createdAt to the millisecond, across eras and time zones', async () => {
      const { store } = subject();
      const stream = uniqueStream('append-created-at');
      const dates = [
        new Date('1999-12-31T23:59:59.999Z'),
        new Date('2021-03-28T01:30:00.001Z'),
        new Date('2045-07-01T12:00:00.500Z'),
        new Date('2100-01-01T00:00:00.000Z'),
      ];
      await appendInTransaction(
        store,
        ExpectedVersion.noStream(),
        dates.map((createdAt) => makeEvent(stream, { createdAt })),
      );
      const { events } = await readStream(store, stream);
      assert.deepEqual(
        events.map((e) => e.createdAt.toISOString()),
        dates.map((d) => d.toISOString()),
      );
    });

    api.it(
      'keeps events of other streams out of a stream, with positions increasing across streams',
      async () => {
        const { store } = subject();
        const a = uniqueStream('append-interleave-a');
        const b = uniqueStream('append-interleave-b');
        const results: AppendResult[] = [];
        for (const stream of [a, b, a, b, a]) {
          results.push(
            await appendInTransaction(store, ExpectedVersion.any(), [makeEvent(stream)]),
          );
        }
        const positions = results.flatMap((r) => r.globalPositions);
        for (let i = 1; i < positions.length; i++) assert.ok(positions[i]! > positions[i - 1]!);
        const readA = await readStream(store, a);
        const readB = await readStream(store, b);
        assert.deepEqual(
          readA.events.map((e) => e.aggregateVersion),
          [1, 2, 3],
        );
        assert.deepEqual(
          readB.events.map((e) => e.aggregateVersion),
          [1, 2],
        );
        assert.ok(readA.events.every((e) => e.aggregateId === a.aggregateId));
      },
    );

    api.it('writes one aggregate head per stream', async () => {
      const current = subject();
      const before = await snapshotStore(current);
      const a = uniqueStream('append-heads-a');
      const b = uniqueStream('append-heads-b');
      await appendInTransaction(current.store, ExpectedVersion.noStream(), makeEvents(a, 2));
      await appendInTransaction(current.store, ExpectedVersion.noStream(), makeEvents(b, 1));
      await appendInTransaction(current.store, ExpectedVersion.exact(2), makeEvents(a, 3));
      const after = await snapshotStore(current);
      assertRowsAdded(before, after, { events: 6, aggregateHeads: 2 });
      assert.equal((await readStream(current.store, a)).version, 5);
      assert.equal((await readStream(current.store, b)).version, 1);
    });

    api.it('is atomic: a call failing on its last event writes none of its events', async () => {
      const current = subject();
      const { store } = current;
      const taken = uniqueStream('append-atomic-taken');
      const [existing] = (
        await appendInTransaction(store, ExpectedVersion.noStream(), [makeEvent(taken)])
      ).events;
      const stream = uniqueStream('append-atomic');
      await assertNothingWritten(
        current,
        () =>
          assertRejectsWith(
            appendInTransaction(store, ExpectedVersion.noStream(), [
              makeEvent(stream),
              makeEvent(stream),
              // Only the database can tell this id is taken: the failure comes after two inserts.
              makeEvent(stream, { eventId: existing!.eventId }),
            ]),
            DuplicateEventIdError,
            'DUPLICATE_EVENT_ID',
          ),
        [stream, taken],
      );
      const read = await readStream(store, stream);
      assert.equal(read.isEmpty, true);
      // The stream is still new: a first append still passes noStream().
      const retry = await appendInTransaction(
        store,
        ExpectedVersion.noStream(),
        makeEvents(stream, 3),
      );
      assert.equal(retry.fromVersion, 0);
      assert.equal(retry.toVersion, 3);
    });
  });
}
