import { ExpectedVersion } from '../expected-version.js';
import type { Checkpoint, EventStore, StreamRef } from '../types.js';
import { makeEvent, uniqueId } from './helpers.js';

/** One call of a store method, named for assertion messages. */
export interface MethodCall {
  readonly what: string;
  readonly call: () => unknown;
}

/** Valid arguments for {@link callsWithTransaction}. */
export interface ValidArguments {
  /** A stream to append to and read. */
  stream: StreamRef;
  /** A checkpoint of this store. */
  checkpoint: Checkpoint;
}

/**
 * One call of each store method that takes a transaction handle (the optional ones when the store
 * has them), with `tx` and otherwise valid arguments.
 */
export function callsWithTransaction(
  store: EventStore<any>,
  tx: unknown,
  valid: ValidArguments,
): MethodCall[] {
  const projection = uniqueId('conformance-projection');
  const calls: MethodCall[] = [
    {
      what: 'append',
      call: () => store.append(tx, ExpectedVersion.any(), [makeEvent(valid.stream)]),
    },
    { what: 'readEvents', call: () => store.readEvents(tx, { after: null, limit: 10 }) },
    { what: 'readAggregateStream', call: () => store.readAggregateStream(tx, valid.stream) },
    { what: 'getCheckpoint', call: () => store.getCheckpoint(tx, projection) },
    {
      what: 'saveCheckpoint',
      call: () => store.saveCheckpoint(tx, projection, valid.checkpoint),
    },
  ];
  if (typeof store.readProjectionBatch === 'function') {
    calls.push({
      what: 'readProjectionBatch',
      call: () => store.readProjectionBatch!(tx, projection, { limit: 10 }),
    });
  }
  if (typeof store.getLogStatus === 'function') {
    calls.push({ what: 'getLogStatus', call: () => store.getLogStatus!(tx, { after: null }) });
  }
  return calls;
}

/**
 * One call of every store method: those of {@link callsWithTransaction}, plus `transaction`
 * (whose callback sets `ran`), `appendToStream`, `migrate` and `waitForEvents` (when the store
 * has it).
 */
export function callsOfEveryMethod(
  store: EventStore<any>,
  tx: unknown,
  valid: ValidArguments,
  ran: { callback: boolean },
): MethodCall[] {
  const calls: MethodCall[] = [
    {
      what: 'transaction',
      call: () =>
        store.transaction(async () => {
          ran.callback = true;
        }),
    },
    ...callsWithTransaction(store, tx, valid),
    {
      what: 'appendToStream',
      call: () => store.appendToStream(ExpectedVersion.any(), [makeEvent(valid.stream)]),
    },
    { what: 'migrate', call: () => store.migrate() },
  ];
  if (typeof store.waitForEvents === 'function') {
    calls.push({
      what: 'waitForEvents',
      call: () => store.waitForEvents!({ signal: new AbortController().signal, timeoutMs: 10 }),
    });
  }
  return calls;
}
