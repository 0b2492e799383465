import { isAbortSignal } from '../abort-signal.js';
import {
  InvalidArgumentError,
  InvalidConfigError,
  InvalidStoredEventError,
  isTransientError,
  OperationAbortedError,
} from '../errors.js';
import type { Logger } from '../logger.js';
import type { DomainEvent } from '../typed-events.js';
import type { DeadLetter, EventStore, PersistedEvent, TransactionOptions } from '../types.js';
import { assertProjectionStore, resolveProjection } from './config.js';
import { deadLetterMessage } from './processor.js';
import type { Projection, ProjectionContext } from './types.js';

/** Options of {@link replayDeadLetters}. */
export interface ReplayDeadLettersOptions {
  /**
   * Stops the replay: no further letter is started, the letter in flight is given up (its
   * transaction rolls back, so it stays a dead letter), and the call rejects with
   * `OperationAbortedError`. Handlers get it as `context.signal`.
   */
  signal?: AbortSignal;
  /** Where each replayed, failed and skipped letter is logged; nothing is logged without one. */
  logger?: Logger;
  /**
   * Replay only the dead letters at these global positions (positive integers). A position that
   * is no dead letter of the projection is reported as skipped. @default every dead letter
   */
  globalPositions?: readonly number[];
}

/** What {@link replayDeadLetters} did, each list in global-position order. */
export interface ReplayDeadLettersResult {
  /** Letters whose event the handler applied; their dead letters are deleted. */
  replayed: number[];
  /**
   * Letters that failed again (the handler threw, the event cannot be decoded, or it no longer
   * exists): they stay dead letters, with this error text and a new `failedAt`.
   */
  failed: { globalPosition: number; error: string }[];
  /**
   * Letters that were gone when their turn came (another replay took them), and requested
   * positions (`globalPositions`) that are no dead letter of the projection.
   */
  skipped: number[];
}

/**
 * Key of the point read that stores built by `createEventStore` offer {@link replayDeadLetters}:
 * the event row at a position, decoded only on demand, so that an event that cannot be decoded
 * counts as the letter's failure rather than the store's.
 * @internal
 */
export const readEventEntryAt: unique symbol = Symbol.for('@pup/core.readEventEntryAt');

/** The shape of that method: `null` when there is no event at the position. @internal */
export type ReadEventEntryAt<Tx> = (
  tx: Tx,
  globalPosition: number,
) => Promise<{ decode(): PersistedEvent } | null>;

/** Signal of replays started without one: never aborts. */
const NEVER_ABORTED = new AbortController().signal;

const LOGGER_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

const REQUIRED_METHODS = [
  'listDeadLetters',
  'deleteDeadLetter',
  'saveDeadLetter',
  'readEventAtPosition',
] as const;

/** Thrown inside a letter's transaction to roll it back when the letter itself failed. */
class LetterFailure {
  constructor(readonly cause: unknown) {}
}

/**
 * Replays the dead letters of a projection (events its `deadLetter` policy set aside) once its
 * handler is fixed: each letter, in global-position order, in a store transaction of its own,
 * deletes the dead letter, reads the event at its position (`readEventAtPosition`: upcasters and
 * `validateOnRead` apply as on every read) and hands it to `projection.handle(event, { tx,
 * signal })`, then commits. The read model written through `tx` and the deletion commit together,
 * so a replayed letter changes the read model exactly once.
 *
 * - When the handler throws again (or the event cannot be decoded, or no longer exists), the
 *   transaction rolls back: the letter stays, and a second transaction records the new error and
 *   `failedAt` on it (with the processor's rules for the error text). The replay goes on with the
 *   next letter; the letter is reported in `failed`.
 * - The projection's scope (`aggregateTypes`, `boundedContexts`) is not applied: a dead-lettered
 *   event was in scope when it failed, so it is handled as is. Nor is its `onError` policy: a
 *   failing letter is tried once per replay.
 * - **Order.** A replayed event is applied after the events that followed it in the log, which
 *   the projection handled meanwhile. Handlers must tolerate that (per-aggregate versions,
 *   upserts, commutative updates), or replay before the later events matter.
 * - **Concurrency.** Replays run safely beside live workers and processors of the projection (they
 *   never touch its checkpoints) and beside each other: deleting the letter first locks its row,
 *   so a second replay of the same letter waits for the first one's transaction and then deletes
 *   nothing (the letter is reported in its `skipped`), or, when the first one failed and rolled
 *   back, replays it itself. Each letter is applied at most once.
 * - A store failure (including a transient one under the handler, such as a lost connection)
 *   rejects the call: the letter in flight rolls back and stays a dead letter, the letters before
 *   it stay replayed. Replaying again is safe.
 *
 * @param store A store with `listDeadLetters`, `deleteDeadLetter`, `saveDeadLetter` and
 * `readEventAtPosition` (every pup adapter and the in-memory store).
 * @param projection The projection whose dead letters to replay, with its fixed `handle`.
 * @returns Which letters were replayed, failed again, or skipped.
 * @throws {InvalidConfigError} (as a rejection) when the store lacks one of those methods or the
 * projection is invalid.
 * @throws {InvalidArgumentError} (as a rejection) on invalid options.
 * @throws {OperationAbortedError} (as a rejection) when `options.signal` aborts.
 *
 * @example
 * const result = await replayDeadLetters(store, orderTotals, { logger });
 * console.log(`replayed ${result.replayed.length}, failed ${result.failed.length}`);
 * for (const { globalPosition, error } of result.failed) {
 *   console.error(`event ${globalPosition} still fails: ${error}`);
 * }
 */
export async function replayDeadLetters<Tx, E extends object = DomainEvent>(
  store: EventStore<Tx, E>,
  projection: Projection<Tx, E>,
  options?: ReplayDeadLettersOptions,
): Promise<ReplayDeadLettersResult> {
  assertProjectionStore(store);
  const resolved = resolveProjection(projection as Projection<Tx, any>);
  for (const method of REQUIRED_METHODS) {
    if (typeof store[method] !== 'function') {
      throw new InvalidConfigError(
        'store',
        `has no ${method}: its adapter cannot replay dead letters`,
      );
    }
  }
  const { signal, logger, globalPositions } = validateOptions(options);
  const replay = new DeadLetterReplay(
    store as unknown as EventStore<Tx>,
    resolved.name,
    resolved.projection as Projection<Tx>,
    signal,
    logger,
  );
  return replay.run(globalPositions);
}

function validateOptions(options: ReplayDeadLettersOptions | undefined | null): {
  signal: AbortSignal | undefined;
  logger: Logger | undefined;
  globalPositions: number[] | undefined;
} {
  if (options === undefined || options === null) {
    return { signal: undefined, logger: undefined, globalPositions: undefined };
  }
  if (typeof options !== 'object') {
    throw new InvalidArgumentError(
      'options',
      'replayDeadLetters takes { signal?, logger?, globalPositions? }',
    );
  }
  const signal = options.signal ?? undefined;
  if (signal !== undefined && !isAbortSignal(signal)) {
    throw new InvalidArgumentError('options.signal', 'must be an AbortSignal');
  }
  const logger = options.logger ?? undefined;
  if (
    logger !== undefined &&
    (typeof logger !== 'object' ||
      logger === null ||
      !LOGGER_LEVELS.every((level) => typeof logger[level] === 'function'))
  ) {
    throw new InvalidArgumentError(
      'options.logger',
      'must have debug, info, warn and error functions',
    );
  }
  const positions = options.globalPositions ?? undefined;
  if (positions === undefined) return { signal, logger, globalPositions: undefined };
  if (
    !Array.isArray(positions) ||
    !positions.every((position) => Number.isSafeInteger(position) && position > 0)
  ) {
    throw new InvalidArgumentError(
      'options.globalPositions',
      'must be an array of positive integers',
    );
  }
  const unique = [...new Set<number>(positions)].sort((a, b) => a - b);
  return { signal, logger, globalPositions: unique };
}

/** One `replayDeadLetters` call. */
class DeadLetterReplay<Tx> {
  private readonly transactionOptions: TransactionOptions | undefined;
  private readonly context: { signal: AbortSignal };
  private readonly readEntry: ReadEventEntryAt<Tx> | undefined;

  constructor(
    private readonly store: EventStore<Tx>,
    private readonly name: string,
    private readonly projection: Projection<Tx>,
    private readonly signal: AbortSignal | undefined,
    private readonly logger: Logger | undefined,
  ) {
    this.transactionOptions = signal === undefined ? undefined : { signal };
    this.context = { signal: signal ?? NEVER_ABORTED };
    const entry = (store as { [readEventEntryAt]?: ReadEventEntryAt<Tx> })[readEventEntryAt];
    this.readEntry = typeof entry === 'function' ? entry : undefined;
  }

  async run(only: number[] | undefined): Promise<ReplayDeadLettersResult> {
    const { store, name, logger } = this;
    this.throwIfAborted();
    const letters = await this.guard(
      store.transaction((tx) => store.listDeadLetters!(tx, name), this.transactionOptions),
    );
    const byPosition = new Map(letters.map((letter) => [letter.globalPosition, letter]));
    const positions = only ?? [...byPosition.keys()].sort((a, b) => a - b);
    const result: ReplayDeadLettersResult = { replayed: [], failed: [], skipped: [] };
    for (const globalPosition of positions) {
      this.throwIfAborted();
      const letter = byPosition.get(globalPosition);
      if (letter === undefined) {
        result.skipped.push(globalPosition);
        continue;
      }
      const fields = { projection: name, globalPosition, checkpoint: letter.checkpoint };
      const outcome = await this.replay(letter);
      if (outcome === 'replayed') {
        result.replayed.push(globalPosition);
        logger?.info('dead letter replayed', fields);
      } else if (outcome === 'skipped') {
        result.skipped.push(globalPosition);
        logger?.debug('dead letter skipped: another replay took it', fields);
      } else {
        result.failed.push({ globalPosition, error: outcome.error });
        logger?.warn('dead letter replay failed; the letter stays', {
          ...fields,
          error: outcome.cause,
        });
      }
    }
    logger?.info('dead letters replayed', {
      projection: name,
      replayed: result.replayed.length,
      failed: result.failed.length,
      skipped: result.skipped.length,
    });
    return result;
  }

  /** One letter: its own transaction, and a second one to record a new failure. */
  private async replay(
    letter: DeadLetter,
  ): Promise<'replayed' | 'skipped' | { error: string; cause: unknown }> {
    const { store, name } = this;
    const { globalPosition } = letter;
    // Set inside the transaction's callback (a cast keeps TypeScript from narrowing it away).
    let failure = undefined as LetterFailure | undefined;
    try {
      return await this.guard(
        store.transaction(async (tx) => {
          if (!(await store.deleteDeadLetter!(tx, name, globalPosition))) return 'skipped';
          const event = await this.readEvent(tx, globalPosition, (cause) => {
            failure = new LetterFailure(cause);
            return failure;
          });
          const context: ProjectionContext<Tx> = { tx, signal: this.context.signal };
          try {
            await this.projection.handle(event, context);
          } catch (cause) {
            // A store failure under the handler rejects the replay, as the store's own would.
            if (this.signal?.aborted || isTransientError(cause)) throw cause;
            failure = new LetterFailure(cause);
            throw failure;
          }
          return 'replayed';
        }, this.transactionOptions),
      );
    } catch (error) {
      if (failure === undefined || error !== failure) throw error;
    }
    const text = deadLetterMessage(failure.cause);
    await this.guard(
      store.transaction(async (tx) => {
        // Recorded only while the letter exists: a replay that took it meanwhile and succeeded
        // deleted it for good, and it must not come back.
        if (await store.deleteDeadLetter!(tx, name, globalPosition)) {
          await store.saveDeadLetter!(tx, {
            projectionName: name,
            globalPosition,
            checkpoint: letter.checkpoint,
            error: text,
            failedAt: Date.now(),
          });
        }
      }, this.transactionOptions),
    );
    return { error: text, cause: failure.cause };
  }

  /**
   * The event at `globalPosition`; a missing event or one that cannot be decoded is the letter's
   * failure (thrown as what `fail` returns), a failing read the store's.
   */
  private async readEvent(
    tx: Tx,
    globalPosition: number,
    fail: (cause: unknown) => LetterFailure,
  ): Promise<PersistedEvent> {
    let event: PersistedEvent | null;
    if (this.readEntry !== undefined) {
      const entry = await this.readEntry.call(this.store, tx, globalPosition);
      try {
        event = entry === null ? null : entry.decode();
      } catch (cause) {
        throw fail(cause);
      }
    } else {
      try {
        event = await this.store.readEventAtPosition!(tx, globalPosition);
      } catch (cause) {
        if (cause instanceof InvalidStoredEventError) throw fail(cause);
        throw cause;
      }
    }
    if (event === null) {
      throw fail(new Error(`the event at global position ${globalPosition} no longer exists`));
    }
    return event;
  }

  /** `work`, with any failure after the signal aborted turned into `OperationAbortedError`. */
  private async guard<T>(work: Promise<T>): Promise<T> {
    try {
      return await work;
    } catch (error) {
      if (this.signal?.aborted) {
        throw new OperationAbortedError('replayDeadLetters', {
          cause: this.signal.reason,
          commitUnknown: error instanceof OperationAbortedError && error.commitUnknown,
        });
      }
      throw error;
    }
  }

  private throwIfAborted(): void {
    if (this.signal?.aborted) {
      throw new OperationAbortedError('replayDeadLetters', { cause: this.signal.reason });
    }
  }
}
