// The one input contract (inputLimits), checked in core before any dialect runs: the same input
// gets the same typed error on every adapter. The conformance suite checks it per adapter; these
// tests pin the exact limits on the in-memory store.
import { describe, expect, it } from 'vitest';
import {
  createInMemoryEventStore,
  ExpectedVersion,
  InvalidArgumentError,
  InvalidEventError,
  inputLimits,
  type NewEvent,
} from '../src/index.js';

const base: NewEvent = {
  boundedContext: 'ctx',
  aggregateType: 'Thing',
  aggregateId: 'thing-1',
  eventType: 'ThingHappened',
  payload: { ok: true },
};

async function appendOne(event: Partial<NewEvent>, expected = ExpectedVersion.any()) {
  const store = createInMemoryEventStore();
  try {
    return await store.transaction((tx) => store.append(tx, expected, [{ ...base, ...event }]));
  } finally {
    expect(store.countRows().events).toBeLessThanOrEqual(1);
    await store.close();
  }
}

async function expectInvalidEvent(event: Partial<NewEvent>, field: string) {
  const error = await appendOne(event).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidEventError);
  expect((error as InvalidEventError).code).toBe('INVALID_EVENT');
  expect((error as InvalidEventError).field).toBe(field);
}

describe('input contract', () => {
  it.each([
    ['boundedContext', inputLimits.maxBoundedContextLength],
    ['aggregateType', inputLimits.maxAggregateTypeLength],
    ['aggregateId', inputLimits.maxAggregateIdLength],
    ['eventType', inputLimits.maxEventTypeLength],
    ['traceId', inputLimits.maxTraceIdLength],
    ['correlationId', inputLimits.maxTraceIdLength],
    ['causationId', inputLimits.maxTraceIdLength],
  ] as const)('%s: %i characters pass, one more fails', async (field, max) => {
    await expect(appendOne({ [field]: 'a'.repeat(max) })).resolves.toMatchObject({ toVersion: 1 });
    await expectInvalidEvent({ [field]: 'a'.repeat(max + 1) }, field);
  });

  it.each([
    'boundedContext',
    'aggregateType',
    'aggregateId',
    'eventType',
    'traceId',
    'correlationId',
    'causationId',
  ] as const)('%s: NUL characters and lone surrogates fail', async (field) => {
    await expectInvalidEvent({ [field]: 'a\u0000b' }, field);
    await expectInvalidEvent({ [field]: 'a\ud800b' }, field);
    await expectInvalidEvent({ [field]: 'a\udc00' }, field);
    // A surrogate pair is fine.
    await expect(appendOne({ [field]: 'dog-🐶' })).resolves.toMatchObject({ toVersion: 1 });
  });

  it('eventVersion stays within 32-bit signed integers', async () => {
    await expect(appendOne({ eventVersion: inputLimits.maxEventVersion })).resolves.toBeDefined();
    await expectInvalidEvent({ eventVersion: inputLimits.maxEventVersion + 1 }, 'eventVersion');
    await expectInvalidEvent({ eventVersion: 0 }, 'eventVersion');
  });

  it('createdAt lies between the years 1000 and 9999', async () => {
    await expect(
      appendOne({ createdAt: new Date(inputLimits.minCreatedAt) }),
    ).resolves.toBeDefined();
    await expect(
      appendOne({ createdAt: new Date(inputLimits.maxCreatedAt) }),
    ).resolves.toBeDefined();
    await expectInvalidEvent({ createdAt: new Date(inputLimits.minCreatedAt - 1) }, 'createdAt');
    await expectInvalidEvent({ createdAt: new Date(inputLimits.maxCreatedAt + 1) }, 'createdAt');
  });

  it('metadata strings and keys without NUL or lone surrogates, and bounded in size', async () => {
    await expectInvalidEvent({ metadata: { note: 'a\u0000b' } }, 'metadata');
    await expectInvalidEvent({ metadata: { nested: { list: ['ok', '\ud800'] } } }, 'metadata');
    await expectInvalidEvent({ metadata: { 'bad\u0000key': 1 } }, 'metadata');
    await expectInvalidEvent(
      { metadata: { big: 'x'.repeat(inputLimits.maxMetadataLength) } },
      'metadata',
    );
    await expect(appendOne({ metadata: { note: 'dog 🐶', n: [1, 2] } })).resolves.toBeDefined();
  });

  it('payloads are bounded per event and per append; NUL inside a payload is fine', async () => {
    await expect(appendOne({ payload: { text: 'a\u0000b' } })).resolves.toBeDefined();
    await expectInvalidEvent({ payload: 'x'.repeat(inputLimits.maxPayloadBytes) }, 'payload');
    const store = createInMemoryEventStore();
    const chunk = 'x'.repeat(inputLimits.maxPayloadBytes - 16);
    const events = Array.from({ length: 9 }, () => ({ ...base, payload: chunk }));
    await expect(
      store.transaction((tx) => store.append(tx, ExpectedVersion.any(), events)),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(store.countRows().events).toBe(0);
  });

  it('at most maxEventsPerAppend events in one append', async () => {
    const store = createInMemoryEventStore();
    const events = Array.from({ length: inputLimits.maxEventsPerAppend + 1 }, () => base);
    await expect(
      store.transaction((tx) => store.append(tx, ExpectedVersion.any(), events)),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(store.countRows().events).toBe(0);
  });

  it('a hand-made expectation is checked by its shape, never by a function it carries', async () => {
    const store = createInMemoryEventStore();
    await store.transaction((tx) => store.append(tx, ExpectedVersion.noStream(), [base]));
    const forged = { kind: 'exact', version: 5, matches: () => true };
    await expect(
      store.transaction((tx) => store.append(tx, forged as unknown as ExpectedVersion, [base])),
    ).rejects.toMatchObject({ code: 'OPTIMISTIC_CONCURRENCY', actualVersion: 1 });
    await expect(
      store.transaction((tx) =>
        store.append(tx, { kind: 'sometimes' } as unknown as ExpectedVersion, [base]),
      ),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(store.countRows().events).toBe(1);
  });

  it('stream references and projection names follow the same text rules on read', async () => {
    const store = createInMemoryEventStore();
    await store.transaction(async (tx) => {
      for (const stream of [
        { ...base, aggregateId: 'a'.repeat(inputLimits.maxAggregateIdLength + 1) },
        { ...base, aggregateType: 'T\u0000' },
        { ...base, boundedContext: '\udfff' },
      ]) {
        await expect(store.readAggregateStream(tx, stream)).rejects.toBeInstanceOf(
          InvalidArgumentError,
        );
      }
      for (const name of ['p\u0000', 'p\ud800', 'p'.repeat(256)]) {
        await expect(store.getCheckpoint(tx, name)).rejects.toBeInstanceOf(InvalidArgumentError);
      }
    });
  });

  it('checkpoints are checked against the store before they are saved or read after', async () => {
    const store = createInMemoryEventStore();
    await store.transaction(async (tx) => {
      for (const checkpoint of [
        'abc',
        '1; DROP TABLE events',
        '00000000000000000753-0000000000000000042',
      ]) {
        await expect(store.saveCheckpoint(tx, 'p', checkpoint)).rejects.toBeInstanceOf(
          InvalidArgumentError,
        );
        await expect(store.readEvents(tx, { after: checkpoint, limit: 1 })).rejects.toBeInstanceOf(
          InvalidArgumentError,
        );
      }
    });
    expect(store.countRows().checkpoints).toBe(0);
  });
});
