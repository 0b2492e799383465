import type { Logger } from '../logger.js';
import type { DomainEvent, PersistedEventOf } from '../typed-events.js';
import type { PartitionStrategy } from './partition.js';

/** What a projection's handler receives besides the event. */
export interface ProjectionContext<Tx = unknown> {
  /** The batch's transaction: write the read model through it for exactly-once effects. */
  tx: Tx;
  /** Aborted when the processor is asked to stop. */
  signal: AbortSignal;
}

/**
 * Turns events into a read model or side effects. `Tx` is the store's transaction handle; `E`
 * describes the store's events (see `DomainEvent`), so that `handle` narrows `event.payload` by
 * `event.eventType`.
 *
 * @example
 * const balances: Projection<Database.Database, BankEvent> = {
 *   name: 'balances',
 *   handle(event, { tx }) {
 *     switch (event.eventType) {
 *       case 'MoneyDeposited': // event.payload is { amount: number }
 *         tx.prepare('UPDATE balances SET amount = amount + ? WHERE id = ?')
 *           .run(event.payload.amount, event.aggregateId);
 *         break;
 *     }
 *   },
 * };
 */
export interface Projection<Tx = unknown, E extends object = DomainEvent> {
  /** Unique name; the key of its checkpoint. */
  readonly name: string;
  /** Only events of these aggregate types reach `handle`; empty or absent = all. */
  readonly aggregateTypes?: readonly string[];
  /** Only events of these bounded contexts reach `handle`; empty or absent = all. */
  readonly boundedContexts?: readonly string[];
  /**
   * What happens when `handle` throws (or an event cannot be decoded): `stop` the run with a
   * `ProjectionError` (the batch rolled back); `retry` the batch after a backoff, up to
   * `maxAttempts` attempts in a row, then stop; or `deadLetter`: after `maxAttempts` attempts
   * (1 by default) the batch is redone without the event, which is recorded with its error in the
   * store's dead letters (`listDeadLetters`) in that batch's transaction, and the projection moves
   * on. `deadLetter` needs a store with `saveDeadLetter`. @default { policy: 'stop' }
   */
  readonly onError?: ProjectionErrorPolicy;
  /** Handles one event inside the batch's transaction. Throwing rolls the batch back. */
  handle(event: PersistedEventOf<E>, context: ProjectionContext<Tx>): Promise<void> | void;
}

/** See {@link Projection.onError}. */
export type ProjectionErrorPolicy =
  | { readonly policy: 'stop' }
  | {
      readonly policy: 'retry';
      /** Attempts of the failing batch in a row, the first included, before stopping. @default 5 */
      readonly maxAttempts?: number;
      /** Delay before the first retry, in milliseconds; it doubles after each. @default 100 */
      readonly initialDelayMs?: number;
      /** Longest delay between two attempts, in milliseconds. @default 10000 */
      readonly maxDelayMs?: number;
    }
  | {
      readonly policy: 'deadLetter';
      /**
       * Attempts of the failing batch in a row, the first included, before the event is set
       * aside. @default 1
       */
      readonly maxAttempts?: number;
      /** Delay before the first retry, in milliseconds; it doubles after each. @default 100 */
      readonly initialDelayMs?: number;
      /** Longest delay between two attempts, in milliseconds. @default 10000 */
      readonly maxDelayMs?: number;
    };

/** Configuration of a {@link ProjectionProcessor}. */
export interface ProjectionProcessorConfig {
  /**
   * Events read and handled per transaction while the projection is caught up, and the first
   * batch's size. @default 100
   */
  batchSize?: number;
  /**
   * Largest batch while catching up. A full batch that took less than half of
   * `maxBatchDurationMs` lets the next batch double, up to this size; once caught up, batches
   * return to `batchSize`. Each batch is still one transaction with its checkpoint, so
   * exactly-once is unchanged. Set it to `batchSize` to keep batches fixed.
   * @default max(1000, batchSize)
   */
  maxBatchSize?: number;
  /**
   * Bound on a batch's duration (read, handlers, commit) in milliseconds: a slower batch halves
   * the next one, so slow handlers keep transactions short. @default 1000
   */
  maxBatchDurationMs?: number;
  /** How long to wait for new events once caught up, in milliseconds. @default 100 */
  pollIntervalMs?: number;
  /** This worker's partition, from 0 to `totalPartitions - 1`. @default 0 */
  partitionKey?: number;
  /** How many partitions share the projection. @default 1 */
  totalPartitions?: number;
  /** Decides which aggregate belongs to which partition. @default hashPartitionStrategy */
  partitionStrategy?: PartitionStrategy;
  /**
   * With `hashPartitionStrategy` and more than one partition (and in every `ProjectionWorker`
   * segment): let the database leave out the events of other partitions, so each batch transfers
   * and parses only this partition's rows (plus the batch's last row, to move the checkpoint).
   * Stores that cannot filter (SQLite, in-memory, custom adapters without `readSegmentBatch`)
   * read every row and filter in the process, as with `false`. Results are the same either way.
   * @default true
   */
  serverSideFiltering?: boolean;
  /** Where the processor logs; nothing is logged without one. */
  logger?: Logger;
  /**
   * How a batch that failed on a transient database error (a lost connection, a deadlock, a lock
   * timeout: see `isTransientError`) is retried: after `initialDelayMs`, doubling up to
   * `maxDelayMs`, at most `maxRetries` times in a row; then `run` rejects with a `ProjectionError`
   * whose `cause` is the last error. A handler's own error is never retried.
   * @default { maxRetries: 20, initialDelayMs: 100, maxDelayMs: 10000 }
   */
  retry?: ProjectionRetryConfig;
}

/** See {@link ProjectionProcessorConfig.retry}. */
export interface ProjectionRetryConfig {
  /** Retries in a row before giving up; 0 turns retrying off. @default 20 */
  maxRetries?: number;
  /** Delay before the first retry, in milliseconds. @default 100 */
  initialDelayMs?: number;
  /** Longest delay between two retries, in milliseconds. @default 10000 */
  maxDelayMs?: number;
}

/** Options of `ProjectionProcessor.run`. */
export interface RunOptions {
  /** Stops the processor after the batch in flight. */
  signal?: AbortSignal;
}
