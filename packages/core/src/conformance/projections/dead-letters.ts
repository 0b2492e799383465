import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../../errors.js';
import { ExpectedVersion } from '../../expected-version.js';
import { replayDeadLetters } from '../../projection/replay.js';
import type { Projection, ProjectionContext } from '../../projection/types.js';
import type { DeadLetter, EventStore, PersistedEvent } from '../../types.js';
import {
  appendEvents,
  assertRejectsWith,
  deferred,
  itIf,
  makeEvent,
  makeEvents,
  QUEUED_TRANSACTIONS_REASON,
  readWholeLog,
  type StreamSpec,
  sleep,
  supportsConcurrentTransactions,
  uniqueStream,
  waitForLog,
  withFreshStore,
} from '../helpers.js';
import { limitTime } from '../time-limits.js';
import type { ConformanceHarness, ConformanceTestApi } from '../types.js';
import { CheckpointTableReadModel, processUntil } from './support.js';

/** The reason of tests skipped because the store cannot replay dead letters. */
export const NO_DEAD_LETTER_REPLAY_REASON =
  'the harness declares capabilities.deadLetterReplay: false (or deadLetters: false)';

/** Something that is not what the type says, on purpose. */
type Untyped = any;

const REPLAY_METHODS = [
  'saveDeadLetter',
  'listDeadLetters',
  'deleteDeadLetter',
  'readEventAtPosition',
] as const;

function requireReplay(store: EventStore<any>): void {
  for (const method of REPLAY_METHODS) {
    assert.equal(
      typeof store[method],
      'function',
      `the store has no ${method}: declare capabilities.deadLetterReplay: false in the harness`,
    );
  }
}

function streams(count: number): StreamSpec[] {
  return Array.from({ length: count }, (_, i) => ({ aggregateId: `dl-${i}`, count: 2 }));
}

/** A projection whose handler fails on chosen events until fixed, or waits on its next call. */
interface SwitchableProjection<Tx> extends Projection<Tx> {
  /** Every event handed to `handle`, in call order (rolled-back calls included). */
  readonly calls: PersistedEvent[];
  /** The error message the handler throws on a poison event, or `null` once fixed. */
  failure: string | null;
  /** Awaited by the next call of `handle` before it writes (then cleared). */
  beforeNextCall: (() => Promise<void>) | undefined;
}

/**
 * A projection that writes each event to `readModel` through the batch's transaction and then,
 * while `failure` is set, throws on the events of `poison`: so a failure must roll its own write
 * back.
 */
function switchableProjection<Tx>(
  readModel: CheckpointTableReadModel<Tx>,
  poison: ReadonlySet<string>,
): SwitchableProjection<Tx> {
  const projection: SwitchableProjection<Tx> = {
    name: `replay-${readModel.prefix}`,
    onError: { policy: 'deadLetter' },
    calls: [],
    failure: 'poison event',
    beforeNextCall: undefined,
    async handle(event: PersistedEvent, context: ProjectionContext<Tx>) {
      projection.calls.push(event);
      const before = projection.beforeNextCall;
      projection.beforeNextCall = undefined;
      await before?.();
      await readModel.apply(context.tx, event);
      if (projection.failure !== null && poison.has(event.eventId)) {
        throw new Error(projection.failure);
      }
    },
  };
  return projection;
}

/**
 * Appends a log, runs the projection with its `deadLetter` policy until it passed the whole log,
 * and checks that exactly the events at `poisonIndexes` became dead letters.
 */
async function withDeadLetters<Tx>(
  store: EventStore<Tx>,
  poisonIndexes: readonly number[],
): Promise<{
  log: PersistedEvent[];
  poisoned: PersistedEvent[];
  readModel: CheckpointTableReadModel<Tx>;
  projection: SwitchableProjection<Tx>;
}> {
  await appendEvents(store, streams(3), 2);
  const log = await readWholeLog(store);
  const poisoned = poisonIndexes.map((index) => log[index]!);
  const readModel = new CheckpointTableReadModel(store);
  const projection = switchableProjection(
    readModel,
    new Set(poisoned.map((event) => event.eventId)),
  );
  await processUntil(store, projection, log.at(-1)!.checkpoint);
  const letters = await listLetters(store, projection.name);
  assert.deepEqual(
    letters.map((letter) => letter.globalPosition),
    poisoned.map((event) => event.globalPosition),
    'the poison events are dead letters',
  );
  await readModel.assertApplied(
    log,
    (event) => !poisoned.includes(event),
    'read model before the replay',
  );
  return { log, poisoned, readModel, projection };
}

function listLetters<Tx>(store: EventStore<Tx>, projectionName: string): Promise<DeadLetter[]> {
  return store.transaction((tx) => store.listDeadLetters!(tx, projectionName));
}

/**
 * Registers the dead-letter replay group: `replayDeadLetters` applies a dead-lettered event once
 * its handler is fixed, exactly once (also with two replays at once, on stores with concurrent
 * transactions), keeps a letter that fails again with its new error, and `readEventAtPosition`
 * reads one event by position. Skipped with a reason when the harness declares
 * `capabilities.deadLetterReplay: false` (or `deadLetters: false`).
 */
export function describeProjectionDeadLetterConformance(
  testApi: ConformanceTestApi,
  harness: ConformanceHarness,
): void {
  const api = limitTime(testApi, harness);
  const replay =
    harness.capabilities?.deadLetterReplay ?? harness.capabilities?.deadLetters ?? true;
  api.describe('projections: dead-letter replay', () => {
    itIf(
      api,
      replay,
      'a fixed handler applies a dead letter once through replayDeadLetters; a second replay does nothing',
      NO_DEAD_LETTER_REPLAY_REASON,
      () =>
        withFreshStore(harness, async ({ store }) => {
          requireReplay(store);
          const { log, poisoned, readModel, projection } = await withDeadLetters(store, [1]);
          const poison = poisoned[0]!;
          projection.failure = null;
          const callsBefore = projection.calls.length;
          const result = await replayDeadLetters(store, projection);
          assert.deepEqual(result, {
            replayed: [poison.globalPosition],
            failed: [],
            skipped: [],
          });
          assert.deepEqual(
            projection.calls.slice(callsBefore).map((event) => event.eventId),
            [poison.eventId],
            'the handler gets the dead-lettered event, once',
          );
          const replayed = projection.calls.at(-1)!;
          assert.equal(replayed.globalPosition, poison.globalPosition);
          assert.equal(replayed.checkpoint, poison.checkpoint);
          assert.deepEqual(replayed.payload, poison.payload, 'the event is read back decoded');
          await readModel.assertApplied(log, () => true, 'read model after the replay');
          assert.deepEqual(await listLetters(store, projection.name), [], 'the letter is gone');

          const again = await replayDeadLetters(store, projection);
          assert.deepEqual(again, { replayed: [], failed: [], skipped: [] });
          assert.equal(projection.calls.length, callsBefore + 1, 'nothing is handled again');
          await readModel.assertApplied(log, () => true, 'read model after a second replay');
        }),
    );

    itIf(
      api,
      replay,
      'a letter that fails again stays, with the new error, and its write is rolled back',
      NO_DEAD_LETTER_REPLAY_REASON,
      () =>
        withFreshStore(harness, async ({ store }) => {
          requireReplay(store);
          const { log, poisoned, readModel, projection } = await withDeadLetters(store, [2, 4]);
          const [first, second] = poisoned as [PersistedEvent, PersistedEvent];
          const [before] = await listLetters(store, projection.name);
          projection.failure = 'still broken';
          const result = await replayDeadLetters(store, projection);
          assert.deepEqual(result, {
            replayed: [],
            failed: [
              { globalPosition: first.globalPosition, error: 'still broken' },
              { globalPosition: second.globalPosition, error: 'still broken' },
            ],
            skipped: [],
          });
          const letters = await listLetters(store, projection.name);
          assert.equal(letters.length, 2, 'both letters stay');
          for (const [letter, event] of [
            [letters[0]!, first],
            [letters[1]!, second],
          ] as const) {
            assert.equal(letter.projectionName, projection.name);
            assert.equal(letter.globalPosition, event.globalPosition);
            assert.equal(letter.checkpoint, event.checkpoint);
            assert.equal(letter.error, 'still broken', 'the letter keeps the new error');
            assert.ok(Number.isSafeInteger(letter.failedAt));
          }
          assert.ok(letters[0]!.failedAt >= before!.failedAt, 'failedAt is the new failure');
          await readModel.assertApplied(
            log,
            (event) => !poisoned.includes(event),
            'read model after the failed replay',
          );

          // Only the letters asked for; a position that is no letter is skipped.
          projection.failure = null;
          const notALetter = log[0]!.globalPosition;
          const some = await replayDeadLetters(store, projection, {
            globalPositions: [second.globalPosition, notALetter],
          });
          assert.deepEqual(some, {
            replayed: [second.globalPosition],
            failed: [],
            skipped: [notALetter],
          });
          assert.deepEqual(
            (await listLetters(store, projection.name)).map((letter) => letter.globalPosition),
            [first.globalPosition],
            'the other letter stays',
          );
          await readModel.assertApplied(
            log,
            (event) => event !== first,
            'read model after replaying one letter',
          );
        }),
    );

    itIf(
      api,
      replay && supportsConcurrentTransactions(harness),
      'two replays at once apply each letter exactly once',
      replay ? QUEUED_TRANSACTIONS_REASON : NO_DEAD_LETTER_REPLAY_REASON,
      () =>
        withFreshStore(harness, async ({ store }) => {
          requireReplay(store);
          const { log, poisoned, readModel, projection } = await withDeadLetters(
            store,
            [0, 2, 3, 5],
          );
          projection.failure = null;
          // The first letter's transaction stays open until both replays have listed the letters
          // and tried to delete one: the second one reaches the letter the first one holds, and
          // has to wait for its row.
          const deleting = [deferred(), deferred()] as const;
          const replayer = (index: 0 | 1): EventStore<any> => {
            const watched: EventStore<any> = Object.create(store);
            watched.deleteDeadLetter = (tx, name, globalPosition) => {
              deleting[index].resolve();
              return store.deleteDeadLetter!(tx, name, globalPosition);
            };
            return watched;
          };
          const bothDeleting = Promise.all(deleting.map((d) => d.promise));
          projection.beforeNextCall = async () => {
            await bothDeleting;
            await sleep(100);
          };
          const callsBefore = projection.calls.length;
          const [a, b] = await Promise.all([
            replayDeadLetters(replayer(0), projection),
            replayDeadLetters(replayer(1), projection),
          ]);
          assert.deepEqual(a.failed, [], 'no replay failed');
          assert.deepEqual(b.failed, [], 'no replay failed');
          assert.ok(
            a.skipped.length + b.skipped.length >= 1,
            'the replay that waited for a letter the other one applied skips it',
          );
          const replayed = [...a.replayed, ...b.replayed].sort((x, y) => x - y);
          assert.deepEqual(
            replayed,
            poisoned.map((event) => event.globalPosition),
            'each letter is replayed by exactly one of the two',
          );
          assert.equal(
            projection.calls.length - callsBefore,
            poisoned.length,
            'the handler runs once per letter',
          );
          await readModel.assertApplied(log, () => true, 'read model after both replays');
          assert.deepEqual(await listLetters(store, projection.name), []);
        }),
    );

    itIf(
      api,
      replay,
      'readEventAtPosition reads one event by position, null where there is none',
      NO_DEAD_LETTER_REPLAY_REASON,
      () =>
        withFreshStore(harness, async ({ store }) => {
          requireReplay(store);
          const readAt = (tx: unknown, globalPosition: number) =>
            store.readEventAtPosition!(tx, globalPosition);
          const appended = await store.appendToStream(
            ExpectedVersion.noStream(),
            makeEvents(uniqueStream('at'), 3),
          );
          // Committed events may become readable a little later (PostgreSQL's horizon).
          const log = await waitForLog(
            store,
            appended.events.map((event) => event.eventId),
          );
          const last = log.at(-1)!;
          await store.transaction(async (tx) => {
            for (const event of log) {
              assert.deepEqual(await readAt(tx, event.globalPosition), event);
            }
            assert.equal(await readAt(tx, last.globalPosition + 1000), null, 'past the end');
          });

          // An append rolled back leaves no event at its position; its own transaction sees it.
          const rolledBack = new Error('roll back');
          let position = 0;
          await assertRejects(
            store.transaction(async (tx) => {
              const result = await store.append(tx, ExpectedVersion.any(), [
                makeEvent(uniqueStream('at-rolled-back')),
              ]);
              position = result.globalPositions[0]!;
              const own = await readAt(tx, position);
              assert.equal(own?.eventId, result.events[0]!.eventId, 'the own append is seen');
              throw rolledBack;
            }),
            rolledBack,
          );
          assert.equal(
            await store.transaction((tx) => readAt(tx, position)),
            null,
            'no event at a rolled-back position',
          );

          for (const bad of [0, -1, 1.5, Number.NaN, '1' as Untyped]) {
            await assertRejectsWith(
              store.transaction((tx) => readAt(tx, bad)),
              InvalidArgumentError,
              'INVALID_ARGUMENT',
              { argument: 'globalPosition' },
            );
            // Checked before the transaction handle is even looked at: no database work.
            await assertRejectsWith(
              readAt({ not: 'a transaction' }, bad),
              InvalidArgumentError,
              'INVALID_ARGUMENT',
              { argument: 'globalPosition' },
            );
            await assertRejectsWith(
              store.deleteDeadLetter!({ not: 'a transaction' }, 'projection', bad),
              InvalidArgumentError,
              'INVALID_ARGUMENT',
              { argument: 'globalPosition' },
            );
          }
        }),
    );
  });
}

async function assertRejects(promise: Promise<unknown>, expected: unknown): Promise<void> {
  try {
    await promise;
  } catch (error) {
    assert.equal(error, expected, 'the transaction rejects with its callback error');
    return;
  }
  assert.fail('the transaction was expected to reject');
}
