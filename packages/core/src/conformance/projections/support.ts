import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { compareCheckpoints } from '../../checkpoint.js';
import { ProjectionProcessor } from '../../projection/processor.js';
import type {
  Projection,
  ProjectionContext,
  ProjectionProcessorConfig,
} from '../../projection/types.js';
import type { Checkpoint, EventStore, PersistedEvent } from '../../types.js';
import { readCheckpoint, waitUntil } from '../helpers.js';

/**
 * A read model the suite can write in a projection's transaction with nothing but the store
 * contract: it lives in the checkpoints table, one row per applied event
 * (`<prefix>:e:<eventId>`), because `saveCheckpoint(tx, …)` is the one write every store offers
 * inside a caller's transaction. Applying an event twice leaves a second row
 * (`<prefix>:d:<eventId>`), so a duplicate effect is visible after the fact, whatever rolled back
 * in between.
 */
export class CheckpointTableReadModel<Tx = any> {
  /**
   * @param store The store whose checkpoints table holds the read model.
   * @param prefix Distinguishes this read model from others in the same table.
   */
  constructor(
    readonly store: EventStore<Tx>,
    readonly prefix: string = `rm-${randomUUID()}`,
  ) {}

  /** Records `event` as applied, in the caller's transaction `tx`. */
  async apply(tx: Tx, event: PersistedEvent): Promise<void> {
    const key = `${this.prefix}:e:${event.eventId}`;
    const seen = await this.store.getCheckpoint(tx, key);
    await this.store.saveCheckpoint(
      tx,
      seen === null ? key : `${this.prefix}:d:${event.eventId}`,
      event.checkpoint,
    );
  }

  /**
   * How often each event was applied, as committed: 0, 1, or 2 for "more than once". Read in a
   * transaction of its own.
   */
  async counts(events: readonly PersistedEvent[]): Promise<Map<string, number>> {
    return this.store.transaction(async (tx) => {
      const counts = new Map<string, number>();
      for (const event of events) {
        const once = await this.store.getCheckpoint(tx, `${this.prefix}:e:${event.eventId}`);
        const twice = await this.store.getCheckpoint(tx, `${this.prefix}:d:${event.eventId}`);
        counts.set(event.eventId, twice !== null ? 2 : once !== null ? 1 : 0);
      }
      return counts;
    });
  }

  /**
   * Asserts that exactly the events `expected` selects were applied, each exactly once, and the
   * others not at all.
   */
  async assertApplied(
    events: readonly PersistedEvent[],
    expected: (event: PersistedEvent) => boolean,
    what = 'read model',
  ): Promise<void> {
    const counts = await this.counts(events);
    for (const event of events) {
      const count = counts.get(event.eventId);
      const want = expected(event) ? 1 : 0;
      assert.equal(
        count,
        want,
        `${what}: event at global position ${event.globalPosition} applied ${count === 2 ? 'more than once' : `${count} time(s)`}, expected ${want}`,
      );
    }
  }
}

/**
 * Runs `projection` with `processor` until every checkpoint of `checkpointNames` has reached (or
 * passed) `target`, then aborts the run and awaits it (a rejection fails the test).
 */
export async function runUntilCheckpoints<Tx>(
  processorRun: (signal: AbortSignal) => Promise<void>,
  store: EventStore<Tx>,
  checkpointNames: readonly string[],
  target: Checkpoint,
  timeoutMs = 20_000,
): Promise<void> {
  const controller = new AbortController();
  const running = processorRun(controller.signal);
  try {
    await waitUntil(
      async () => {
        for (const name of checkpointNames) {
          if (compareCheckpoints(await readCheckpoint(store, name), target) < 0) return false;
        }
        return true;
      },
      `checkpoints ${checkpointNames.join(', ')} did not reach the end of the log`,
      { timeoutMs, stopped: running },
    );
  } finally {
    controller.abort();
    await running.catch(() => undefined);
  }
  await running;
}

/** Runs one projection with one processor until its checkpoint reaches `target`. */
export function runUntilCaughtUp<Tx>(
  processor: ProjectionProcessor<Tx>,
  projection: Projection<Tx>,
  target: Checkpoint,
  timeoutMs?: number,
): Promise<void> {
  return runUntilCheckpoints(
    (signal) => processor.run(projection, { signal }),
    processor.store,
    [processor.checkpointName(projection)],
    target,
    timeoutMs,
  );
}

/** What a recording projection saw: every call of `handle`, committed or not. */
export interface RecordingProjection<Tx> extends Projection<Tx> {
  /** Every event handed to `handle`, in call order (including calls of rolled-back batches). */
  readonly calls: PersistedEvent[];
}

/**
 * A projection that applies each event to `readModel` through the batch's transaction and records
 * the call; `onEvent` runs first and may throw.
 */
export function recordingProjection<Tx>(
  readModel: CheckpointTableReadModel<Tx>,
  options: {
    name?: string;
    aggregateTypes?: readonly string[];
    boundedContexts?: readonly string[];
    onEvent?: (event: PersistedEvent, context: ProjectionContext<Tx>, call: number) => unknown;
  } = {},
): RecordingProjection<Tx> {
  const calls: PersistedEvent[] = [];
  return {
    name: options.name ?? `projection-${randomUUID()}`,
    aggregateTypes: options.aggregateTypes,
    boundedContexts: options.boundedContexts,
    calls,
    async handle(event, context) {
      calls.push(event);
      await options.onEvent?.(event, context, calls.length);
      await readModel.apply(context.tx, event);
    },
  };
}

/**
 * Asserts that `readModel` holds exactly the events of `log` up to and including `checkpoint`,
 * each once, and none after it (none at all when `checkpoint` is `null`). Returns how many events
 * that is.
 */
export async function assertConsistentWithCheckpoint(
  readModel: CheckpointTableReadModel,
  log: readonly PersistedEvent[],
  checkpoint: Checkpoint | null,
  what: string,
): Promise<number> {
  const upTo = checkpoint === null ? 0 : log.findIndex((e) => e.checkpoint === checkpoint) + 1;
  assert.ok(checkpoint === null || upTo > 0, `${what}: the checkpoint is an event of the log`);
  const index = new Map(log.map((e, i) => [e.eventId, i]));
  await readModel.assertApplied(log, (e) => index.get(e.eventId)! < upTo, what);
  return upTo;
}

/** Poll interval of the suite's processors: short, so tests that wait for events stay quick. */
export const TEST_POLL_INTERVAL_MS = 20;

/**
 * Runs `projection` on a processor of its own (polling every {@link TEST_POLL_INTERVAL_MS} ms
 * unless `config` says otherwise) until its checkpoint reaches `target`, then stops it; rejects with the run's error.
 */
export function processUntil<Tx>(
  store: EventStore<Tx>,
  projection: Projection<Tx, any>,
  target: Checkpoint,
  config: ProjectionProcessorConfig = {},
): Promise<void> {
  const processor = new ProjectionProcessor(store, {
    pollIntervalMs: TEST_POLL_INTERVAL_MS,
    ...config,
  });
  return runUntilCheckpoints(
    (signal) => processor.run(projection, { signal }),
    store,
    [projection.name],
    target,
  );
}
