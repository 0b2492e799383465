import { isAbortSignal } from '../abort-signal.js';
import type { SegmentFilter } from '../adapter/dialect.js';
import {
  InvalidArgumentError,
  InvalidConfigError,
  isTransientError,
  LeaseLostError,
  OperationAbortedError,
  ProjectionError,
  StoreClosedError,
} from '../errors.js';
import type { DomainEvent } from '../typed-events.js';
import type { EventStore, PersistedEvent } from '../types.js';
import { type BatchEntry, readLazyProjectionBatch } from './batch.js';
import {
  assertErrorPolicySupported,
  assertProjectionStore,
  projectionCheckpointName,
  type ResolvedProjection,
  type ResolvedProjectionProcessorConfig,
  resolveProjection,
  resolveProjectionProcessorConfig,
} from './config.js';
import { hashPartitionStrategy } from './partition.js';
import type {
  Projection,
  ProjectionContext,
  ProjectionProcessorConfig,
  RunOptions,
} from './types.js';
import { sleep, waitForNewEvents } from './wait.js';

/** Signal of runs started without one: never aborts. */
const NEVER_ABORTED = new AbortController().signal;

/** Checkpoints being processed in this process, per store: two runs on one checkpoint would
 * handle the same events twice. */
const runningCheckpoints = new WeakMap<EventStore<any, any>, Set<string>>();

/** Thrown inside a batch's transaction to roll it back when the run is stopped mid-batch. */
const STOPPED = Symbol('stopped');

/**
 * Thrown inside a batch's transaction that read nothing: it changed nothing, so it is rolled
 * back, which never waits for a log flush, whatever a store's lock may have written.
 */
const NOTHING_READ = Symbol('nothing read');

type EventFilter = (event: BatchEntry) => boolean;

/**
 * Runs projections against a store: reads the log in batches after the projection's checkpoint
 * and hands each matching event to the projection's `handle`.
 *
 * Each batch is one `store.transaction`: lock and read the checkpoint, read up to `batchSize`
 * events after it (both in one call when the store has `readProjectionBatch`), handle them, save
 * the checkpoint of the last event, commit. A read model the handler writes through `context.tx`
 * therefore changes exactly once per event, even across crashes: either the batch's writes and
 * its checkpoint commit together, or neither does. A batch that read nothing is rolled back.
 *
 * - Events outside the projection's scope (`aggregateTypes`, `boundedContexts`) or owned by another
 *   partition are not handed to `handle`, but they still advance the checkpoint.
 * - When a handler throws, the batch is rolled back (checkpoint and read model unchanged) and
 *   `run` rejects with a {@link ProjectionError} naming the projection and the event.
 * - When the `signal` aborts while a batch is being handled, no further event is handed to
 *   `handle` and the batch is rolled back (a handler may have stopped half-way when it saw the
 *   signal), so checkpoint and read model stay as they were before it; `run` then resolves. The
 *   next run handles that batch again. A handler that throws after the abort (an `AbortError`,
 *   typically) is part of the stop, not a failure.
 * - Once caught up it waits `pollIntervalMs`, or less when the store's `waitForEvents` reports new
 *   events; it never busy-loops.
 *
 * Run one processor per checkpoint: two workers with the same projection name and partition must
 * not run at the same time. Within one process this is enforced: a second `run` on a checkpoint
 * that is already being processed on the same store rejects with {@link InvalidConfigError}.
 *
 * @example
 * const processor = new ProjectionProcessor(store, { batchSize: 500 });
 * const controller = new AbortController();
 * process.once('SIGTERM', () => controller.abort());
 * await processor.run(
 *   {
 *     name: 'order-totals',
 *     aggregateTypes: ['Order'],
 *     async handle(event, { tx }) {
 *       // update the read model through tx
 *     },
 *   },
 *   { signal: controller.signal },
 * );
 */
export class ProjectionProcessor<Tx = unknown, E extends object = DomainEvent> {
  /** The store the processor reads from and saves checkpoints to. */
  readonly store: EventStore<Tx, E>;
  /** The validated configuration, defaults filled in. */
  readonly config: ResolvedProjectionProcessorConfig;

  /**
   * @param store Any {@link EventStore}: one of the adapters or the in-memory store. Its event
   * type `E` is the processor's, and the projections it runs get events of it.
   * @param config Batch size, poll interval, partition and logger; all optional.
   * @throws {InvalidConfigError} when `store` lacks a needed method or an option is invalid.
   */
  constructor(store: EventStore<Tx, E>, config?: ProjectionProcessorConfig) {
    assertProjectionStore(store);
    this.store = store;
    this.config = resolveProjectionProcessorConfig(config);
  }

  /**
   * The checkpoint key this processor uses for a projection: its name, or `<name>_p<key>` when the
   * processor is one of several partitions.
   */
  checkpointName(projection: Projection<Tx, E> | string): string {
    const name = typeof projection === 'string' ? projection : projection?.name;
    return projectionCheckpointName(
      name as string,
      this.config.partitionKey,
      this.config.totalPartitions,
    );
  }

  /**
   * Processes the log until `options.signal` aborts, then resolves promptly: a batch in flight
   * is given up (its transaction rejects, even while waiting for a lock or a stalled connection)
   * and rolls back, so its checkpoint and read model stay as they were. Resolves at once when the
   * signal is already aborted.
   *
   * @throws {InvalidConfigError} (as a rejection) when the projection definition is invalid, or its
   * checkpoint is already being processed on this store in this process.
   * @throws {ProjectionError} (as a rejection) when a handler throws or the store fails (after
   * `retry.maxRetries` retries when the failure is transient, such as a lost connection); the
   * failing batch was rolled back. `cause` holds the original error.
   * @throws {StoreClosedError} (as a rejection) when the store was closed while the run went on.
   */
  async run(projection: Projection<Tx, E>, options: RunOptions = {}): Promise<void> {
    const resolved = resolveProjection(projection as Projection<Tx, any>);
    assertErrorPolicySupported(this.store, resolved);
    const signal = options?.signal ?? NEVER_ABORTED;
    if (!isAbortSignal(signal)) throw new InvalidArgumentError('signal', 'must be an AbortSignal');
    if (signal.aborted) return;
    const run = new ProjectionRun(this.store as EventStore<Tx>, this.config, resolved, signal);
    let running = runningCheckpoints.get(this.store);
    if (running === undefined) {
      running = new Set();
      runningCheckpoints.set(this.store, running);
    }
    if (running.has(run.checkpointName)) {
      throw new InvalidConfigError(
        'projection.name',
        `checkpoint ${JSON.stringify(run.checkpointName)} is already being processed in this process`,
      );
    }
    running.add(run.checkpointName);
    try {
      await run.run();
    } finally {
      running.delete(run.checkpointName);
    }
  }
}

/** State of one `run` call. Kept apart from the processor so the hot loop only touches locals. */
export class ProjectionRun<Tx> {
  readonly checkpointName: string;
  private readonly filter: EventFilter | null;
  /** The hash segment the database may filter batches by, when it can. */
  private readonly segment: SegmentFilter | undefined;
  private readonly fields: Record<string, unknown>;
  /** The failure raised by the last batch, to tell it from errors of the store. */
  private failure: ProjectionError | undefined;
  /**
   * The last batch's handler threw a transient database error (its store calls lost the
   * connection, say): the batch is retried like one the store failed, and this is what `run`
   * rejects with when the retries run out.
   */
  private transientHandlerFailure: ProjectionError | undefined;
  private batchHandled = 0;
  /** The size of the next batch (see {@link adapt}). */
  private limit: number;
  private readonly fence: ((tx: Tx) => Promise<void>) | undefined;
  /**
   * Events set aside under the `deadLetter` policy, by checkpoint: the next batches skip them and
   * record them as dead letters in their transaction; dropped once such a batch committed.
   */
  private readonly setAside = new Map<string, { globalPosition: number; error: string }>();
  private setAsideInBatch: string[] = [];

  /**
   * @param fence Runs in each batch's transaction before its checkpoint is saved (a worker's
   * lease check); a {@link LeaseLostError} it throws rolls the batch back and ends the run.
   */
  constructor(
    private readonly store: EventStore<Tx>,
    private readonly config: ResolvedProjectionProcessorConfig,
    private readonly resolved: ResolvedProjection<Tx>,
    private readonly signal: AbortSignal,
    options: { fence?: (tx: Tx) => Promise<void>; fields?: Record<string, unknown> } = {},
  ) {
    this.checkpointName = projectionCheckpointName(
      resolved.name,
      config.partitionKey,
      config.totalPartitions,
    );
    this.limit = config.batchSize;
    this.filter = buildFilter(resolved, config);
    this.segment =
      config.serverSideFiltering &&
      config.totalPartitions > 1 &&
      config.partitionStrategy === hashPartitionStrategy
        ? { segment: config.partitionKey, segments: config.totalPartitions }
        : undefined;
    this.fence = options.fence;
    this.fields = {
      projection: resolved.name,
      checkpointName: this.checkpointName,
      partitionKey: config.partitionKey,
      totalPartitions: config.totalPartitions,
      ...options.fields,
    };
  }

  async run(): Promise<void> {
    const { store, signal, config, fields } = this;
    const { batchSize, maxBatchSize, maxBatchDurationMs, pollIntervalMs, logger } = config;
    const batch = (tx: Tx): Promise<number> => this.batch(tx);
    // The run's signal gives the batch's transaction up at once, even while it waits for the
    // checkpoint lock or a stalled connection; the batch then rolls back.
    const transactionOptions = { signal };
    const { errorPolicy } = this.resolved;
    let idleUntil = 0;
    let events = 0;
    let retries = 0;
    let failures = 0;
    logger?.info('projection started', {
      ...fields,
      batchSize,
      maxBatchSize,
      maxBatchDurationMs,
      pollIntervalMs,
    });
    try {
      while (!signal.aborted) {
        const size = this.limit;
        const started = performance.now();
        let read: number;
        try {
          read = await store.transaction(batch, transactionOptions);
        } catch (error) {
          if (error === STOPPED) break;
          if (signal.aborted && error instanceof OperationAbortedError) break;
          if (error instanceof LeaseLostError && this.failure === undefined) {
            logger?.info('projection stopped: lease lost', { ...fields, events });
            return;
          }
          if (error !== NOTHING_READ) {
            if (this.failure !== undefined && failures + 1 < errorPolicy.maxAttempts) {
              failures += 1;
              const delayMs = retryDelay(errorPolicy, failures);
              logger?.warn('projection handler failed; retrying the batch', {
                ...fields,
                attempt: failures,
                maxAttempts: errorPolicy.maxAttempts,
                delayMs,
                error: this.failure,
              });
              await sleep(delayMs, signal);
              continue;
            }
            const failure = this.failure;
            if (
              failure !== undefined &&
              errorPolicy.deadLetter &&
              failure.checkpoint !== undefined &&
              failure.globalPosition !== undefined &&
              !this.setAside.has(failure.checkpoint)
            ) {
              failures = 0;
              this.setAside.set(failure.checkpoint, {
                globalPosition: failure.globalPosition,
                error: deadLetterMessage(failure.cause),
              });
              logger?.warn('projection sets an event aside as a dead letter', {
                ...fields,
                globalPosition: failure.globalPosition,
                checkpoint: failure.checkpoint,
                error: failure,
              });
              continue;
            }
            if (this.failure !== undefined || !isTransientError(error)) {
              throw this.toProjectionError(error);
            }
            if (retries >= config.retry.maxRetries) throw this.toProjectionError(error);
            retries += 1;
            const delayMs = retryDelay(config.retry, retries);
            logger?.warn('projection batch failed on a transient database error; retrying', {
              ...fields,
              retry: retries,
              maxRetries: config.retry.maxRetries,
              delayMs,
              error,
            });
            await sleep(delayMs, signal);
            continue;
          }
          read = 0;
        }
        retries = 0;
        failures = 0;
        for (const checkpoint of this.setAsideInBatch) this.setAside.delete(checkpoint);
        this.setAsideInBatch = [];
        events += read;
        const durationMs = performance.now() - started;
        if (read > 0 && logger !== undefined) {
          logger.debug('projection batch committed', {
            ...fields,
            events: read,
            handled: this.batchHandled,
            batchSize: size,
            durationMs: Math.round(durationMs * 1000) / 1000,
          });
        }
        this.adapt(read, size, durationMs);
        if (read === size) continue;
        // Caught up. After a wake-up that brought nothing, only the rest of the interval is
        // waited, so a spurious wake-up never shortens the polling period.
        const now = Date.now();
        let wait = pollIntervalMs;
        if (read === 0 && now < idleUntil) wait = idleUntil - now;
        else idleUntil = now + pollIntervalMs;
        await waitForNewEvents(store, wait, signal, logger, fields);
      }
    } catch (error) {
      logger?.error('projection failed', { ...fields, events, error });
      throw error;
    }
    logger?.info('projection stopped', { ...fields, events });
  }

  /**
   * Adaptive batches: a full batch that took less than half of `maxBatchDurationMs` lets the next
   * one double, up to `maxBatchSize`; a batch slower than `maxBatchDurationMs` halves the next
   * one; once caught up (a batch not full) batches return to `batchSize`.
   */
  private adapt(read: number, size: number, durationMs: number): void {
    const { batchSize, maxBatchSize, maxBatchDurationMs, logger } = this.config;
    let next = size;
    if (read < size) next = batchSize;
    else if (durationMs > maxBatchDurationMs) next = Math.max(batchSize, Math.floor(size / 2));
    else if (durationMs * 2 < maxBatchDurationMs) next = Math.min(maxBatchSize, size * 2);
    if (next !== size && logger !== undefined) {
      logger.debug('projection batch size adapted', {
        ...this.fields,
        from: size,
        to: next,
        read,
        durationMs: Math.round(durationMs * 1000) / 1000,
      });
    }
    this.limit = next;
  }

  /** One batch inside its transaction; returns how many events were read and passed. */
  private async batch(tx: Tx): Promise<number> {
    const { store, checkpointName, signal, filter } = this;
    const projection = this.resolved.projection;
    this.failure = undefined;
    this.transientHandlerFailure = undefined;
    this.batchHandled = 0;
    const batch = await readLazyProjectionBatch(
      store,
      tx,
      checkpointName,
      { limit: this.limit },
      this.segment,
    );
    const entries = batch.entries;
    const count = entries.length;
    if (count === 0) throw NOTHING_READ;
    const context: ProjectionContext<Tx> = { tx, signal };
    const setAside = this.setAside.size === 0 ? undefined : this.setAside;
    this.setAsideInBatch = [];
    let handled = 0;
    for (let i = 0; i < count; i++) {
      if (signal.aborted) throw STOPPED;
      const entry = entries[i]!;
      if (setAside !== undefined) {
        const deadLetter = setAside.get(entry.checkpoint);
        if (deadLetter !== undefined) {
          await store.saveDeadLetter!(tx, {
            projectionName: this.resolved.name,
            globalPosition: deadLetter.globalPosition,
            checkpoint: entry.checkpoint,
            error: deadLetter.error,
            failedAt: Date.now(),
          });
          this.setAsideInBatch.push(entry.checkpoint);
          continue;
        }
      }
      // Events out of scope or partition are never decoded.
      if (filter !== null && !filter(entry)) continue;
      let event: PersistedEvent;
      try {
        event = batch.decode(entry);
      } catch (cause) {
        this.failure = new ProjectionError(
          this.resolved.name,
          `the event at global position ${entry.globalPosition} cannot be decoded: ${describe(cause)}`,
          { cause, globalPosition: entry.globalPosition, checkpoint: entry.checkpoint },
        );
        throw this.failure;
      }
      try {
        const result = projection.handle(event, context);
        if (result !== undefined && typeof (result as Promise<void>).then === 'function') {
          await result;
        }
      } catch (cause) {
        if (signal.aborted) throw STOPPED;
        const failure = new ProjectionError(
          this.resolved.name,
          `handler failed at global position ${event.globalPosition}: ${describe(cause)}`,
          { cause, globalPosition: event.globalPosition, checkpoint: event.checkpoint },
        );
        if (isTransientError(cause)) {
          // The database failed under the handler (the batch's connection was lost, a
          // deadlock): the whole batch is retried, as when the store's own calls fail.
          this.transientHandlerFailure = failure;
          throw cause;
        }
        this.failure = failure;
        throw this.failure;
      }
      handled++;
    }
    // Aborted during the last handler: it may have stopped half-way.
    if (signal.aborted) throw STOPPED;
    this.batchHandled = handled;
    if (this.fence !== undefined) await this.fence(tx);
    await store.saveCheckpoint(tx, checkpointName, entries[count - 1]!.checkpoint);
    // Rows of other segments the database left out count as read: a full batch means more.
    return Math.max(count, batch.scanned);
  }

  private toProjectionError(error: unknown): ProjectionError | StoreClosedError {
    // A handler failed: that is the failure to report, even if the rollback failed as well.
    if (this.failure !== undefined) return this.failure;
    const transient = this.transientHandlerFailure;
    if (transient !== undefined && transient.cause === error) return transient;
    // The store was closed under the run: say so as such, the run cannot go on.
    if (error instanceof StoreClosedError) return error;
    return new ProjectionError(this.resolved.name, `batch failed: ${describe(error)}`, {
      cause: error,
    });
  }
}

/** Exponential backoff with jitter: about `initial × 2^(n-1)`, capped at `max`. */
function retryDelay(
  retry: { readonly initialDelayMs: number; readonly maxDelayMs: number },
  attempt: number,
): number {
  const exponential = retry.initialDelayMs * 2 ** Math.min(attempt - 1, 30);
  const capped = Math.min(retry.maxDelayMs, exponential);
  return Math.max(1, Math.round(capped * (0.75 + Math.random() * 0.25)));
}

function buildFilter<Tx>(
  resolved: ResolvedProjection<Tx>,
  config: ResolvedProjectionProcessorConfig,
): EventFilter | null {
  const { aggregateTypes, boundedContexts } = resolved;
  const { partitionKey, totalPartitions, partitionStrategy } = config;
  const partitioned = totalPartitions > 1;
  if (aggregateTypes === null && boundedContexts === null && !partitioned) return null;
  return (event) =>
    (aggregateTypes === null || aggregateTypes.has(event.aggregateType)) &&
    (boundedContexts === null || boundedContexts.has(event.boundedContext)) &&
    (!partitioned ||
      partitionStrategy.shouldProcess(event.aggregateId, partitionKey, totalPartitions));
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * The error text a dead letter keeps: the error's message, at most 4000 characters, NUL and lone
 * surrogates replaced, so every database stores it.
 */
export function deadLetterMessage(error: unknown): string {
  let text = describe(error).replaceAll('\u0000', '\ufffd');
  if (text.length > 4000) text = `${text.slice(0, 3999)}…`;
  return text.replace(LONE_SURROGATE, '\ufffd');
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
