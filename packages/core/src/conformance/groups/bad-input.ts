import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  DuplicateEventIdError,
  InvalidArgumentError,
  InvalidEventError,
  NoEventsError,
} from '../../errors.js';
import { ExpectedVersion } from '../../expected-version.js';
import { MAX_READ_LIMIT } from '../../read-input.js';
import { bytesSerializer } from '../../serializer.js';
import type { NewEvent, StreamRef } from '../../types.js';
import {
  appendInTransaction,
  assertNothingWritten,
  assertRejectsWith,
  assertThrowsWith,
  makeEvent,
  makeEvents,
  uniqueStream,
  useGroupStore,
} from '../helpers.js';
import { limitTime } from '../time-limits.js';
import type { ConformanceHarness, ConformanceStore, ConformanceTestApi } from '../types.js';

/** Something that is not what the type says, on purpose. */
type Untyped = any;

/** Builds an invalid event from a valid one by replacing (or, with `undefined`, deleting) fields. */
function corrupt(stream: StreamRef, changes: Record<string, unknown>): NewEvent {
  const event: Record<string, unknown> = { ...makeEvent(stream) };
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) delete event[key];
    else event[key] = value;
  }
  return event as unknown as NewEvent;
}

function circular(): Record<string, unknown> {
  const value: Record<string, unknown> = { name: 'loop' };
  value.self = value;
  return value;
}

/** Asserts that appending `events` fails with `InvalidEventError(index, field)` and writes nothing. */
async function expectInvalidEvent(
  subject: ConformanceStore,
  stream: StreamRef,
  events: NewEvent[],
  index: number,
  field: string,
): Promise<void> {
  await assertNothingWritten(
    subject,
    () =>
      assertRejectsWith(
        appendInTransaction(subject.store, ExpectedVersion.any(), events),
        InvalidEventError,
        'INVALID_EVENT',
        { index, field },
      ),
    [stream],
  );
}

/**
 * Registers the bad-input group: every invalid argument of `append`, `readEvents`,
 * `readAggregateStream` and the checkpoint methods fails with its typed error (class and `code`)
 * and writes nothing, checked through the harness's `inspect` counts (or a read of the log when
 * the harness has no inspector).
 */
export function describeBadInputConformance(
  testApi: ConformanceTestApi,
  harness: ConformanceHarness,
): void {
  const api = limitTime(testApi, harness);
  api.describe('bad input', () => {
    const subject = useGroupStore(api, harness);

    api.describe('append', () => {
      api.it('an empty list of events → NoEventsError', async () => {
        const stream = uniqueStream('bad-empty');
        for (const expected of [ExpectedVersion.any(), ExpectedVersion.noStream()]) {
          await assertNothingWritten(
            subject(),
            () =>
              assertRejectsWith(
                appendInTransaction(subject().store, expected, []),
                NoEventsError,
                'NO_EVENTS',
              ),
            [stream],
          );
        }
      });

      api.it('events that are not an array → InvalidArgumentError', async () => {
        const stream = uniqueStream('bad-not-array');
        for (const events of [null, makeEvent(stream), 'events']) {
          await assertNothingWritten(
            subject(),
            () =>
              assertRejectsWith(
                appendInTransaction(subject().store, ExpectedVersion.any(), events as Untyped),
                InvalidArgumentError,
                'INVALID_ARGUMENT',
              ),
            [stream],
          );
        }
      });

      api.it('an event that is not an object → InvalidEventError(field "event")', async () => {
        const stream = uniqueStream('bad-not-object');
        for (const bad of [null, 'event', 42]) {
          await expectInvalidEvent(
            subject(),
            stream,
            [makeEvent(stream), bad as Untyped],
            1,
            'event',
          );
        }
      });

      for (const field of ['boundedContext', 'aggregateType', 'aggregateId'] as const) {
        api.it(
          `events of two streams (other ${field}) → InvalidEventError naming index and field`,
          async () => {
            const stream = uniqueStream('bad-two-streams');
            const other = { ...stream, [field]: `${stream[field]}-other` };
            await assertNothingWritten(
              subject(),
              () =>
                assertRejectsWith(
                  appendInTransaction(subject().store, ExpectedVersion.any(), [
                    makeEvent(stream),
                    makeEvent(stream),
                    makeEvent(other),
                  ]),
                  InvalidEventError,
                  'INVALID_EVENT',
                  { index: 2, field },
                ),
              [stream, other],
            );
          },
        );
      }

      for (const field of [
        'boundedContext',
        'aggregateType',
        'aggregateId',
        'eventType',
      ] as const) {
        api.it(`a missing, empty or non-string ${field} → InvalidEventError`, async () => {
          const stream = uniqueStream(`bad-${field}`);
          for (const value of [undefined, null, '', 42]) {
            // The invalid event comes second: its index is reported and the first is not written.
            await expectInvalidEvent(
              subject(),
              stream,
              [makeEvent(stream), corrupt(stream, { [field]: value })],
              1,
              field,
            );
          }
          await expectInvalidEvent(subject(), stream, [corrupt(stream, { [field]: '' })], 0, field);
        });
      }

      api.it('a payload JSON cannot represent → InvalidEventError(field "payload")', async () => {
        const stream = uniqueStream('bad-payload');
        const payloads = [undefined, 10n, circular(), () => 'fn', Symbol('s')];
        for (const payload of payloads) {
          const event = { ...makeEvent(stream), payload };
          await expectInvalidEvent(subject(), stream, [makeEvent(stream), event], 1, 'payload');
        }
        await expectInvalidEvent(
          subject(),
          stream,
          [corrupt(stream, { payload: undefined })],
          0,
          'payload',
        );
      });

      api.it('an eventId that is not a UUID → InvalidEventError(field "eventId")', async () => {
        const stream = uniqueStream('bad-event-id');
        const uuid = randomUUID();
        const ids = [
          'not-a-uuid',
          '',
          uuid.replaceAll('-', ''),
          `{${uuid}}`,
          `${uuid}0`,
          `${uuid.slice(0, -1)}g`,
          ` ${uuid}`,
          42,
        ];
        for (const eventId of ids) {
          await expectInvalidEvent(
            subject(),
            stream,
            [makeEvent(stream), corrupt(stream, { eventId })],
            1,
            'eventId',
          );
        }
      });

      api.it('an eventVersion that is not a positive integer → InvalidEventError', async () => {
        const stream = uniqueStream('bad-event-version');
        for (const eventVersion of [0, -1, 1.5, Number.NaN, '2', Number.POSITIVE_INFINITY]) {
          await expectInvalidEvent(
            subject(),
            stream,
            [corrupt(stream, { eventVersion })],
            0,
            'eventVersion',
          );
        }
      });

      api.it('a createdAt that is not a valid Date → InvalidEventError', async () => {
        const stream = uniqueStream('bad-created-at');
        for (const createdAt of [new Date(Number.NaN), '2024-01-01T00:00:00Z', 1_700_000_000_000]) {
          await expectInvalidEvent(
            subject(),
            stream,
            [corrupt(stream, { createdAt })],
            0,
            'createdAt',
          );
        }
      });

      for (const field of ['traceId', 'correlationId', 'causationId'] as const) {
        api.it(`a non-string ${field} → InvalidEventError`, async () => {
          const stream = uniqueStream(`bad-${field}`);
          for (const value of [42, { id: 'x' }, true]) {
            await expectInvalidEvent(
              subject(),
              stream,
              [corrupt(stream, { [field]: value })],
              0,
              field,
            );
          }
        });
      }

      api.it(
        'metadata that cannot be serialized or is not an object → InvalidEventError',
        async () => {
          const stream = uniqueStream('bad-metadata');
          const values = [{ big: 10n }, circular(), ['an', 'array'], 'text', 42, true];
          for (const metadata of values) {
            await expectInvalidEvent(
              subject(),
              stream,
              [makeEvent(stream), corrupt(stream, { metadata })],
              1,
              'metadata',
            );
          }
        },
      );

      api.it('a duplicate eventId inside one call → DuplicateEventIdError', async () => {
        const stream = uniqueStream('bad-dup-inside');
        const eventId = randomUUID();
        for (const second of [eventId, eventId.toUpperCase()]) {
          await assertNothingWritten(
            subject(),
            () =>
              assertRejectsWith(
                appendInTransaction(subject().store, ExpectedVersion.any(), [
                  makeEvent(stream, { eventId }),
                  makeEvent(stream),
                  makeEvent(stream, { eventId: second }),
                ]),
                DuplicateEventIdError,
                'DUPLICATE_EVENT_ID',
              ),
            [stream],
          );
        }
      });

      api.it('an eventId already stored → DuplicateEventIdError, on any stream', async () => {
        const { store } = subject();
        const first = uniqueStream('bad-dup-first');
        const other = uniqueStream('bad-dup-other');
        const eventId = randomUUID();
        await appendInTransaction(store, ExpectedVersion.noStream(), [
          makeEvent(first, { eventId }),
        ]);
        const attempts: [StreamRef, ExpectedVersion, string][] = [
          [first, ExpectedVersion.exact(1), eventId],
          [other, ExpectedVersion.noStream(), eventId],
          [other, ExpectedVersion.any(), eventId.toUpperCase()],
        ];
        for (const [stream, expected, id] of attempts) {
          await assertNothingWritten(
            subject(),
            () =>
              assertRejectsWith(
                appendInTransaction(store, expected, [
                  makeEvent(stream),
                  makeEvent(stream, { eventId: id }),
                ]),
                DuplicateEventIdError,
                'DUPLICATE_EVENT_ID',
              ),
            [first, other],
          );
        }
      });

      api.it(
        'an invalid exact version → InvalidArgumentError from ExpectedVersion.exact',
        async () => {
          const invalid = [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, '1', null];
          // It throws before any store call: nothing can be written, and nothing is.
          await assertNothingWritten(subject(), async () => {
            for (const version of invalid) {
              assertThrowsWith(
                () => ExpectedVersion.exact(version as Untyped),
                InvalidArgumentError,
                'INVALID_ARGUMENT',
              );
            }
          });
        },
      );

      api.it(
        'an expected version that is not an ExpectedVersion → InvalidArgumentError',
        async () => {
          const stream = uniqueStream('bad-expected');
          const fakes = [
            undefined,
            null,
            'any',
            0,
            { kind: 'any' },
            { kind: 'exact', version: -1, matches: () => true },
            { kind: 'exact', version: 1.5, matches: () => true },
            { kind: 'latest', matches: () => true },
          ];
          for (const expected of fakes) {
            await assertNothingWritten(
              subject(),
              () =>
                assertRejectsWith(
                  appendInTransaction(subject().store, expected as Untyped, [makeEvent(stream)]),
                  InvalidArgumentError,
                  'INVALID_ARGUMENT',
                ),
              [stream],
            );
          }
        },
      );
    });

    api.describe('bytes serializer', () => {
      const bytesSubject = useGroupStore(api, harness, { serializer: bytesSerializer });

      api.it(
        'a payload that is not a Uint8Array → InvalidEventError(field "payload")',
        async () => {
          const stream = uniqueStream('bad-bytes');
          for (const payload of ['text', { a: 1 }, [1, 2, 3], null, new ArrayBuffer(4)]) {
            await expectInvalidEvent(
              bytesSubject(),
              stream,
              [makeEvent(stream, { payload: new Uint8Array([1]) }), corrupt(stream, { payload })],
              1,
              'payload',
            );
          }
        },
      );
    });

    api.describe('reads and checkpoints', () => {
      api.it('an invalid readEvents limit → InvalidArgumentError', async () => {
        const { store } = subject();
        const limits = [0, -1, 1.5, Number.NaN, '10', undefined, null, MAX_READ_LIMIT + 1];
        for (const limit of limits) {
          await assertNothingWritten(subject(), () =>
            assertRejectsWith(
              store.transaction((tx) => store.readEvents(tx, { limit } as Untyped)),
              InvalidArgumentError,
              'INVALID_ARGUMENT',
            ),
          );
        }
        await assertRejectsWith(
          store.transaction((tx) => store.readEvents(tx, undefined as Untyped)),
          InvalidArgumentError,
          'INVALID_ARGUMENT',
        );
      });

      api.it('an invalid readEvents checkpoint → InvalidArgumentError', async () => {
        const { store } = subject();
        // Checkpoints are opaque, but a store must recognise what is not one of its own.
        for (const after of ['', 'not-a-checkpoint', 42, { position: 1 }]) {
          await assertNothingWritten(subject(), () =>
            assertRejectsWith(
              store.transaction((tx) => store.readEvents(tx, { after, limit: 10 } as Untyped)),
              InvalidArgumentError,
              'INVALID_ARGUMENT',
            ),
          );
        }
      });

      api.it(
        'an invalid stream or version range for readAggregateStream → InvalidArgumentError',
        async () => {
          const { store } = subject();
          const stream = uniqueStream('bad-read-stream');
          await appendInTransaction(store, ExpectedVersion.noStream(), makeEvents(stream, 2));
          const badStreams = [
            { ...stream, aggregateId: '' },
            { boundedContext: stream.boundedContext, aggregateType: stream.aggregateType },
            { ...stream, aggregateType: 42 },
            null,
          ];
          for (const ref of badStreams) {
            await assertNothingWritten(
              subject(),
              () =>
                assertRejectsWith(
                  store.transaction((tx) => store.readAggregateStream(tx, ref as Untyped)),
                  InvalidArgumentError,
                  'INVALID_ARGUMENT',
                ),
              [stream],
            );
          }
          const badRanges = [{ fromVersion: -1 }, { toVersion: 1.5 }, { fromVersion: '1' }, 'all'];
          for (const range of badRanges) {
            await assertNothingWritten(
              subject(),
              () =>
                assertRejectsWith(
                  store.transaction((tx) =>
                    store.readAggregateStream(tx, stream, range as Untyped),
                  ),
                  InvalidArgumentError,
                  'INVALID_ARGUMENT',
                ),
              [stream],
            );
          }
        },
      );

      api.it(
        'an invalid projection name or checkpoint → InvalidArgumentError, nothing saved',
        async () => {
          const { store } = subject();
          const [event] = (
            await appendInTransaction(store, ExpectedVersion.noStream(), [
              makeEvent(uniqueStream('bad-cp')),
            ])
          ).events;
          const checkpoint = event!.checkpoint;
          const badNames = ['', 'p'.repeat(256), 42, null];
          for (const name of badNames) {
            await assertNothingWritten(subject(), () =>
              assertRejectsWith(
                store.transaction((tx) => store.saveCheckpoint(tx, name as Untyped, checkpoint)),
                InvalidArgumentError,
                'INVALID_ARGUMENT',
              ),
            );
            await assertRejectsWith(
              store.transaction((tx) => store.getCheckpoint(tx, name as Untyped)),
              InvalidArgumentError,
              'INVALID_ARGUMENT',
            );
          }
          for (const bad of ['', null, 42]) {
            const name = `bad-cp-${randomUUID()}`;
            await assertNothingWritten(subject(), () =>
              assertRejectsWith(
                store.transaction((tx) => store.saveCheckpoint(tx, name, bad as Untyped)),
                InvalidArgumentError,
                'INVALID_ARGUMENT',
              ),
            );
            assert.equal(await store.transaction((tx) => store.getCheckpoint(tx, name)), null);
          }
        },
      );
    });
  });
}
