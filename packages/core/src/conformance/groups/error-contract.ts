import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../../errors.js';
import { ExpectedVersion } from '../../expected-version.js';
import type { EventStore } from '../../types.js';
import {
  appendInTransaction,
  assertFailsOnlyWithPupError,
  assertNothingWritten,
  assertRejectsWith,
  callAsync,
  makeEvent,
  uniqueStream,
  useGroupStore,
} from '../helpers.js';
import { callsWithTransaction, type MethodCall, type ValidArguments } from '../method-calls.js';
import { limitTime } from '../time-limits.js';
import type { ConformanceHarness, ConformanceTestApi } from '../types.js';

/** Something that is not what the type says, on purpose. */
type Untyped = any;

/** Values that are no transaction handle of any store. */
function garbageHandles(): [string, unknown][] {
  return [
    ['undefined', undefined],
    ['null', null],
    ['0', 0],
    ['42', 42],
    ['an empty string', ''],
    ['a string', 'tx'],
    ['true', true],
    ['an empty object', {}],
    ['an empty array', []],
    ['a symbol', Symbol('tx')],
    ['a Date', new Date(0)],
    ['a bigint', 1n],
  ];
}

/** Values of every wrong type and shape, for every argument of every method. */
function hostileValues(): [string, unknown][] {
  return [
    ['undefined', undefined],
    ['null', null],
    ['NaN', Number.NaN],
    ['-1', -1],
    ['2^53', 2 ** 53],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['an empty string', ''],
    ['a NUL string', '\u0000'],
    ['a lone surrogate', '\ud800'],
    ['a 100,000-character string', 'x'.repeat(100_000)],
    ['an empty object', {}],
    ['an object without prototype', Object.create(null)],
    ['an empty array', []],
    ['an array of nulls', [null, null]],
    ['a symbol', Symbol('hostile')],
    ['a function', () => 'hostile'],
    ['a bigint', 10n],
    ['an invalid Date', new Date(Number.NaN)],
    ['a promise', Promise.resolve('hostile')],
  ];
}

/**
 * Every call of a store method with `value` in one argument position (the others valid), inside
 * the transaction `tx`.
 */
function hostileCalls(
  store: EventStore<any>,
  tx: unknown,
  valid: ValidArguments,
  value: unknown,
): MethodCall[] {
  const s: Untyped = store;
  const h: Untyped = value;
  const event = makeEvent(valid.stream);
  const calls: MethodCall[] = [
    { what: 'append(expected)', call: () => s.append(tx, h, [event]) },
    { what: 'append(events)', call: () => s.append(tx, ExpectedVersion.any(), h) },
    { what: 'append([event])', call: () => s.append(tx, ExpectedVersion.any(), [h]) },
    {
      what: 'append(event.payload)',
      call: () => s.append(tx, ExpectedVersion.any(), [{ ...event, payload: h }]),
    },
    {
      what: 'append(event.metadata)',
      call: () => s.append(tx, ExpectedVersion.any(), [{ ...event, metadata: h }]),
    },
    {
      what: 'append(event.aggregateId)',
      call: () => s.append(tx, ExpectedVersion.any(), [{ ...event, aggregateId: h }]),
    },
    { what: 'appendToStream(expected)', call: () => s.appendToStream(h, [event]) },
    { what: 'appendToStream(events)', call: () => s.appendToStream(ExpectedVersion.any(), h) },
    {
      what: 'appendToStream(options)',
      call: () => s.appendToStream(ExpectedVersion.any(), [event], h),
    },
    { what: 'transaction(options)', call: () => s.transaction(async () => 'ok', h) },
    { what: 'readEvents(options)', call: () => s.readEvents(tx, h) },
    { what: 'readEvents(after)', call: () => s.readEvents(tx, { after: h, limit: 10 }) },
    { what: 'readEvents(limit)', call: () => s.readEvents(tx, { limit: h }) },
    { what: 'readAggregateStream(stream)', call: () => s.readAggregateStream(tx, h) },
    {
      what: 'readAggregateStream(stream.aggregateId)',
      call: () => s.readAggregateStream(tx, { ...valid.stream, aggregateId: h }),
    },
    { what: 'readAggregateStream(range)', call: () => s.readAggregateStream(tx, valid.stream, h) },
    {
      what: 'readAggregateStream(range.fromVersion)',
      call: () => s.readAggregateStream(tx, valid.stream, { fromVersion: h }),
    },
    { what: 'getCheckpoint(name)', call: () => s.getCheckpoint(tx, h) },
    { what: 'getCheckpoint(options)', call: () => s.getCheckpoint(tx, 'conformance-hostile', h) },
    { what: 'saveCheckpoint(name)', call: () => s.saveCheckpoint(tx, h, valid.checkpoint) },
    {
      what: 'saveCheckpoint(checkpoint)',
      call: () => s.saveCheckpoint(tx, 'conformance-hostile', h),
    },
  ];
  if (typeof store.readProjectionBatch === 'function') {
    calls.push(
      {
        what: 'readProjectionBatch(name)',
        call: () => s.readProjectionBatch(tx, h, { limit: 10 }),
      },
      {
        what: 'readProjectionBatch(options)',
        call: () => s.readProjectionBatch(tx, 'conformance-hostile', h),
      },
    );
  }
  if (typeof store.getLogStatus === 'function') {
    calls.push(
      { what: 'getLogStatus(options)', call: () => s.getLogStatus(tx, h) },
      { what: 'getLogStatus(after)', call: () => s.getLogStatus(tx, { after: h }) },
    );
  }
  return calls;
}

/**
 * Registers the error contract group: no store method throws synchronously, and none fails with
 * anything but a `PupError` subclass (class name as `name`, a `code`), whatever it is given:
 *
 * - a garbage transaction handle (`undefined`, `null`, numbers, strings, `{}`, arrays, symbols, …)
 *   makes every method that takes one reject with {@link InvalidArgumentError}
 *   (`INVALID_ARGUMENT`) and write nothing;
 * - `transaction()` with something that is not a function rejects with `InvalidArgumentError`;
 * - hostile values of every type in every argument position make each method resolve or reject
 *   with a `PupError`, never throw synchronously, never leak a raw error;
 * - a transaction callback that throws synchronously makes `transaction()` reject with that very
 *   error (a caller's own error is rethrown as is, the one error that is not a `PupError`).
 *
 * Calls after `close()` are the close group's (`StoreClosedError`).
 */
export function describeErrorContractConformance(
  testApi: ConformanceTestApi,
  harness: ConformanceHarness,
): void {
  const api = limitTime(testApi, harness);
  api.describe('error contract', () => {
    const subject = useGroupStore(api, harness);

    /** A stream with one event and that event's checkpoint. */
    const validArguments = async (): Promise<ValidArguments> => {
      const stream = uniqueStream('error-contract');
      const result = await appendInTransaction(subject().store, ExpectedVersion.any(), [
        makeEvent(stream),
      ]);
      return { stream, checkpoint: result.events[0]!.checkpoint };
    };

    api.it(
      'a garbage transaction handle → InvalidArgumentError from every method taking one, nothing written',
      async () => {
        const current = subject();
        const valid = await validArguments();
        await assertNothingWritten(current, async () => {
          for (const [label, tx] of garbageHandles()) {
            for (const { what, call } of callsWithTransaction(current.store, tx, valid)) {
              await assertRejectsWith(
                callAsync(`${what} with ${label} as tx`, call),
                InvalidArgumentError,
                'INVALID_ARGUMENT',
              );
            }
          }
        }, [valid.stream]);
      },
    );

    api.it(
      'transaction() with something that is not a function → InvalidArgumentError',
      async () => {
        const s: Untyped = subject().store;
        for (const [label, value] of hostileValues()) {
          if (typeof value === 'function') continue;
          await assertRejectsWith(
            callAsync(`transaction(${label})`, () => s.transaction(value)),
            InvalidArgumentError,
            'INVALID_ARGUMENT',
          );
        }
      },
    );

    api.it(
      'hostile arguments: every method resolves or rejects with a PupError, never throwing synchronously',
      async () => {
        const { store } = subject();
        const valid = await validArguments();
        for (const [label, value] of hostileValues()) {
          const failures = await store.transaction(async (tx) => {
            const found: string[] = [];
            for (const { what, call } of hostileCalls(store, tx, valid, value)) {
              const name = `${what} with ${label}`;
              try {
                await assertFailsOnlyWithPupError(name, callAsync(name, call));
              } catch (error) {
                found.push(error instanceof Error ? error.message : String(error));
              }
            }
            return found;
          });
          assert.deepEqual(failures, [], `calls with ${label}`);
        }
      },
    );

    api.it(
      'a transaction callback that throws synchronously → transaction() rejects with that very error',
      async () => {
        const { store } = subject();
        const thrown = new Error('thrown synchronously by the conformance suite');
        const callback: Untyped = () => {
          throw thrown;
        };
        const caught = await callAsync('transaction(throwing callback)', () =>
          store.transaction(callback),
        ).then(
          () => assert.fail('the transaction should have rejected'),
          (error: unknown) => error,
        );
        assert.equal(caught, thrown, 'the callback’s own error is rethrown as is');
        assert.equal(
          await store.transaction(async () => 'still usable'),
          'still usable',
          'the store works after a callback threw',
        );
      },
    );
  });
}
