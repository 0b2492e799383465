import { isAbortSignal } from '../abort-signal.js';
import { compareCheckpoints } from '../checkpoint.js';
import { InvalidArgumentError, OperationAbortedError } from '../errors.js';
import type { Checkpoint, EventStore } from '../types.js';
import { projectionCheckpointName } from './config.js';
import type { Projection } from './types.js';
import { sleep } from './wait.js';

/** Options of {@link waitForProjection}. */
export interface WaitForProjectionOptions {
  /** Gives the wait up: the call rejects with `OperationAbortedError`. */
  signal?: AbortSignal;
  /** Longest wait in milliseconds; then the call rejects with `OperationAbortedError` (`timedOut`). @default 30000 */
  timeoutMs?: number;
  /** How often the checkpoints are read, in milliseconds. @default 50 */
  pollIntervalMs?: number;
  /**
   * How many segments (or partitions) the projection runs with. Stores with lease methods find
   * it in the lease table when absent (the segments `ProjectionWorker`s have leased).
   * @default what the lease table says, else 1
   */
  totalPartitions?: number;
}

/** What {@link waitForProjection} waits for: a checkpoint, or the result of an append. */
export type ProjectionTarget =
  | Checkpoint
  | { readonly events: readonly { checkpoint: Checkpoint }[] };

/**
 * Read-your-writes: resolves once the projection, every segment or partition of it, has
 * committed a checkpoint at or after `target` (a checkpoint, or an append's result: its last
 * event), so a read model written in the projection's transactions already shows that write.
 * Every segment passes every event (skipped ones advance its checkpoint too), so this holds
 * whichever segment handled the event.
 *
 * @throws {OperationAbortedError} (as a rejection) when `signal` aborts or `timeoutMs` runs out.
 * @throws {InvalidArgumentError} (as a rejection) on an invalid target or option.
 *
 * @example
 * const result = await store.appendToStream(ExpectedVersion.noStream(), events);
 * await waitForProjection(store, 'order-totals', result, { timeoutMs: 5000 });
 */
export async function waitForProjection<Tx>(
  store: EventStore<Tx, any>,
  projection: Projection<Tx, any> | string,
  target: ProjectionTarget,
  options: WaitForProjectionOptions = {},
): Promise<void> {
  const name = typeof projection === 'string' ? projection : projection?.name;
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidArgumentError('projection', 'must be a projection or its name');
  }
  const checkpoint = targetCheckpoint(target);
  const timeoutMs = options?.timeoutMs ?? 30_000;
  const pollIntervalMs = options?.pollIntervalMs ?? 50;
  for (const [option, value] of [
    ['timeoutMs', timeoutMs],
    ['pollIntervalMs', pollIntervalMs],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 1 || value > 2_147_483_647) {
      throw new InvalidArgumentError(option, 'must be an integer from 1 to 2147483647');
    }
  }
  const total = options?.totalPartitions;
  if (total !== undefined && (!Number.isSafeInteger(total) || total < 1)) {
    throw new InvalidArgumentError('totalPartitions', 'must be a positive integer');
  }
  const signal = options?.signal;
  if (signal !== undefined && !isAbortSignal(signal)) {
    throw new InvalidArgumentError('signal', 'must be an AbortSignal');
  }
  if (checkpoint === null) return;

  const deadline = Date.now() + timeoutMs;
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(onAbort, timeoutMs);
  try {
    for (;;) {
      if (signal?.aborted === true) {
        throw new OperationAbortedError('waitForProjection', { cause: signal.reason });
      }
      if (Date.now() >= deadline) {
        throw new OperationAbortedError('waitForProjection', { timedOut: true });
      }
      const passed = await store
        .transaction(
          async (tx) => {
            const names = await checkpointNames(store, tx, name, total);
            for (const checkpointName of names) {
              const saved = await store.getCheckpoint(tx, checkpointName);
              if (compareCheckpoints(saved, checkpoint) < 0) return false;
            }
            return true;
          },
          { signal: stop.signal },
        )
        .catch((error: unknown) => {
          if (error instanceof OperationAbortedError && stop.signal.aborted) return false;
          throw error;
        });
      if (passed) return;
      await sleep(Math.min(pollIntervalMs, Math.max(1, deadline - Date.now())), stop.signal);
    }
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

function targetCheckpoint(target: ProjectionTarget): Checkpoint | null {
  if (typeof target === 'string' && target.length > 0) return target;
  if (typeof target === 'object' && target !== null && Array.isArray(target.events)) {
    const last = target.events[target.events.length - 1];
    return last === undefined ? null : last.checkpoint;
  }
  throw new InvalidArgumentError('target', 'must be a checkpoint or an append result');
}

async function checkpointNames<Tx>(
  store: EventStore<Tx, any>,
  tx: Tx,
  name: string,
  total: number | undefined,
): Promise<string[]> {
  let partitions = total;
  if (partitions === undefined && typeof store.readLeases === 'function') {
    const { leases } = await store.readLeases(tx, name);
    partitions = leases.filter((lease) => /^s(0|[1-9][0-9]*)$/.test(lease.key)).length;
  }
  if (partitions === undefined || partitions <= 1) return [name];
  const names: string[] = [];
  for (let key = 0; key < partitions; key++) {
    names.push(projectionCheckpointName(name, key, partitions));
  }
  return names;
}
