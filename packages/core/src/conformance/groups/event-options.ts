import assert from 'node:assert/strict';
import {
  InvalidConfigError,
  InvalidEventError,
  InvalidStoredEventError,
  ProjectionError,
} from '../../errors.js';
import type { EventOptions } from '../../event-options.js';
import { ExpectedVersion } from '../../expected-version.js';
import { ProjectionProcessor } from '../../projection/processor.js';
import type { StandardSchemaV1 } from '../../standard-schema.js';
import type { PersistedEvent } from '../../types.js';
import {
  appendInTransaction,
  assertNothingWritten,
  assertRejectsWith,
  makeEvent,
  readStream,
  uniqueStream,
  waitForLog,
  withFreshStore,
} from '../helpers.js';
import { limitTime } from '../time-limits.js';
import type { ConformanceHarness, ConformanceTestApi } from '../types.js';

/** `{ n: <non-negative integer> }`, written by hand the way validation libraries expose theirs. */
function counterSchema(
  options: { max?: () => number } = {},
): StandardSchemaV1<unknown, { n: number }> {
  return {
    '~standard': {
      version: 1,
      vendor: 'pup-conformance',
      validate(value) {
        const n = (value as { n?: unknown } | null)?.n;
        if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
          return { issues: [{ message: 'must be a non-negative integer', path: ['n'] }] };
        }
        const max = options.max?.();
        if (max !== undefined && n > max) {
          return { issues: [{ message: `must be at most ${max}`, path: ['n'] }] };
        }
        return { value: { n } };
      },
    },
  };
}

const upcasters: EventOptions['upcasters'] = {
  WidgetChanged: {
    // Version 1 stored `count`; version 2 `n`; version 3 adds a unit.
    1: (old: { count: number }) => ({ n: old.count }),
    2: (old: { n: number }) => ({ n: old.n, unit: 'piece' }),
  },
};

function shape(events: readonly PersistedEvent[]) {
  return events.map(({ eventVersion, payload }) => ({ eventVersion, payload }));
}

/**
 * Registers the event rules group: the `events` option (Standard Schemas, upcasters) behaves the
 * same on every adapter. A payload that fails its event type's schema is rejected with
 * {@link InvalidEventError} and nothing is written; upcasters bring old payload versions to the
 * current shape on every read path; `validateOnRead` rejects stored events that no longer match.
 * The harness must hand `options.events` to the adapter's factory unchanged.
 */
export function describeEventOptionsConformance(
  testApi: ConformanceTestApi,
  harness: ConformanceHarness,
): void {
  const api = limitTime(testApi, harness);
  api.describe('event rules (events option)', () => {
    const schemaOptions = { events: { schemas: { WidgetChanged: counterSchema() } } };

    api.it(
      'a payload failing its schema is rejected with InvalidEventError (index, payload, event type, issues); nothing is written',
      async () => {
        await withFreshStore(
          harness,
          async (subject) => {
            const { store } = subject;
            const stream = uniqueStream('schema');
            await appendInTransaction(store, ExpectedVersion.noStream(), [
              makeEvent(stream, { payload: { n: 1 } }),
            ]);
            const bad = [
              makeEvent(stream, { payload: { n: 2 } }),
              makeEvent(stream, { payload: { n: -1 } }),
            ];
            const fields = {
              index: 1,
              field: 'payload',
              eventType: 'WidgetChanged',
              issues: [{ message: 'must be a non-negative integer', path: ['n'] }],
            };
            await assertNothingWritten(
              subject,
              () =>
                assertRejectsWith(
                  appendInTransaction(store, ExpectedVersion.exact(1), bad),
                  InvalidEventError,
                  'INVALID_EVENT',
                  fields,
                ),
              [stream],
            );
            await assertNothingWritten(
              subject,
              () =>
                assertRejectsWith(
                  store.appendToStream(ExpectedVersion.exact(1), bad),
                  InvalidEventError,
                  'INVALID_EVENT',
                  fields,
                ),
              [stream],
            );
            await assertNothingWritten(
              subject,
              () =>
                assertRejectsWith(
                  appendInTransaction(store, ExpectedVersion.noStream(), [
                    makeEvent(uniqueStream('schema-new'), { payload: 'not an object' }),
                  ]),
                  InvalidEventError,
                  'INVALID_EVENT',
                  { index: 0, field: 'payload', eventType: 'WidgetChanged' },
                ),
              [stream],
            );
          },
          schemaOptions,
        );
      },
    );

    api.it(
      'valid payloads are stored as given; event types without a schema are not checked',
      async () => {
        await withFreshStore(
          harness,
          async ({ store }) => {
            const stream = uniqueStream('schema-ok');
            const result = await store.appendToStream(ExpectedVersion.noStream(), [
              makeEvent(stream, { payload: { n: 0 } }),
              makeEvent(stream, { payload: { n: 7, extra: 'kept' } }),
              makeEvent(stream, { eventType: 'WidgetRenamed', payload: 'anything' }),
            ]);
            assert.equal(result.toVersion, 3);
            const read = await readStream(store, stream);
            assert.deepEqual(
              read.events.map((e) => e.payload),
              [{ n: 0 }, { n: 7, extra: 'kept' }, 'anything'],
            );
          },
          schemaOptions,
        );
      },
    );

    api.it(
      'an asynchronous schema is refused with InvalidConfigError; nothing is written',
      async () => {
        const asyncSchema: StandardSchemaV1<unknown, { n: number }> = {
          '~standard': {
            version: 1,
            vendor: 'pup-conformance',
            validate: async (value) => ({ value: value as { n: number } }),
          },
        };
        await withFreshStore(
          harness,
          async (subject) => {
            const stream = uniqueStream('schema-async');
            await assertNothingWritten(
              subject,
              () =>
                assertRejectsWith(
                  subject.store.appendToStream(ExpectedVersion.any(), [makeEvent(stream)]),
                  InvalidConfigError,
                  'INVALID_CONFIG',
                  { option: 'events.schemas.WidgetChanged' },
                ),
              [stream],
            );
          },
          { events: { schemas: { WidgetChanged: asyncSchema } } },
        );
      },
    );

    api.it(
      'upcasters bring old versions to the current shape on readEvents, readAggregateStream, readProjectionBatch and in projections',
      async () => {
        await withFreshStore(
          harness,
          async ({ store }) => {
            const stream = uniqueStream('upcast');
            const appended = await store.appendToStream(ExpectedVersion.noStream(), [
              makeEvent(stream, { eventVersion: 1, payload: { count: 4 } }),
              makeEvent(stream, { eventVersion: 2, payload: { n: 5 } }),
              makeEvent(stream, { payload: { n: 6, unit: 'box' } }),
              makeEvent(stream, { eventType: 'WidgetRenamed', payload: { name: 'w' } }),
            ]);
            assert.deepEqual(
              appended.events.map((e) => e.eventVersion),
              [1, 2, 3, 1],
              'an append without eventVersion gets the current version of its type',
            );
            const current = [
              { eventVersion: 3, payload: { n: 4, unit: 'piece' } },
              { eventVersion: 3, payload: { n: 5, unit: 'piece' } },
              { eventVersion: 3, payload: { n: 6, unit: 'box' } },
              { eventVersion: 1, payload: { name: 'w' } },
            ];
            assert.deepEqual(shape((await readStream(store, stream)).events), current);
            const log = await waitForLog(
              store,
              appended.events.map((e) => e.eventId),
            );
            assert.deepEqual(shape(log), current, 'readEvents');
            if (typeof store.readProjectionBatch === 'function') {
              const batch = await store.transaction((tx) =>
                store.readProjectionBatch!(tx, 'conformance-upcast', { limit: 10 }),
              );
              assert.deepEqual(shape(batch.events), current, 'readProjectionBatch');
            }
            const handled: PersistedEvent[] = [];
            const controller = new AbortController();
            await new ProjectionProcessor(store, { pollIntervalMs: 10 }).run(
              {
                name: 'conformance-upcast-projection',
                handle(event) {
                  handled.push(event);
                  if (handled.length === current.length) controller.abort();
                },
              },
              { signal: controller.signal },
            );
            assert.deepEqual(shape(handled), current, 'a projection gets upcast events');
          },
          { events: { upcasters } },
        );
      },
    );

    api.it(
      'validateOnRead rejects a stored event that no longer matches its schema with InvalidStoredEventError',
      async () => {
        let max: number | undefined;
        await withFreshStore(
          harness,
          async ({ store }) => {
            const stream = uniqueStream('validate-on-read');
            const appended = await appendInTransaction(store, ExpectedVersion.noStream(), [
              makeEvent(stream, { payload: { n: 50 } }),
            ]);
            await waitForLog(store, [appended.events[0]!.eventId]);
            // The schema tightens after the event was written.
            max = 10;
            const fields = {
              globalPosition: appended.events[0]!.globalPosition,
              eventType: 'WidgetChanged',
              eventVersion: 1,
            };
            await assertRejectsWith(
              readStream(store, stream),
              InvalidStoredEventError,
              'INVALID_STORED_EVENT',
              fields,
            );
            await assertRejectsWith(
              store.transaction((tx) => store.readEvents(tx, { limit: 10 })),
              InvalidStoredEventError,
              'INVALID_STORED_EVENT',
              fields,
            );
            const failure = await assertRejectsWith(
              new ProjectionProcessor(store, { retry: { maxRetries: 0 } }).run({
                name: 'conformance-validate-on-read',
                handle() {},
              }),
              ProjectionError,
              'PROJECTION_FAILED',
            );
            assert.ok(
              failure.cause instanceof InvalidStoredEventError,
              'the projection fails with the InvalidStoredEventError as cause',
            );
          },
          {
            events: {
              schemas: { WidgetChanged: counterSchema({ max: () => max ?? 1000 }) },
              validateOnRead: true,
            },
          },
        );
      },
    );
  });
}
