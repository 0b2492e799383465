import { compareCheckpoints } from '../checkpoint.js';
import { InvalidArgumentError } from '../errors.js';
import { MAX_READ_LIMIT } from '../read-input.js';
import type { DomainEvent } from '../typed-events.js';
import type { Checkpoint, EventStore, LogStatus } from '../types.js';
import { projectionCheckpointName } from './config.js';
import type { Projection } from './types.js';

/** Options of {@link getProjectionStatus}. */
export interface ProjectionStatusOptions {
  /** How many partitions the projection runs with (as configured on its processors). @default 1 */
  totalPartitions?: number;
  /** Report only this partition; every partition when absent. */
  partitionKey?: number;
  /**
   * Page size of the fallback count for stores without `getLogStatus`.
   * @default 1000
   */
  scanBatchSize?: number;
}

/** Progress of one partition (of the whole projection when it is not partitioned). */
export interface ProjectionPartitionStatus {
  /** The partition, from 0; 0 when the projection is not partitioned. */
  partitionKey: number;
  /** Key of its checkpoint: the projection's name, or `<name>_p<key>` when partitioned. */
  checkpointName: string;
  /** The saved checkpoint; `null` when the partition has not committed a batch yet. */
  checkpoint: Checkpoint | null;
  /** Events in the log after the checkpoint (the events it has still to read). */
  eventsBehind: number;
}

/** How far a projection has got through the event log, as {@link getProjectionStatus} sees it. */
export interface ProjectionStatus {
  /** The projection's name. */
  projectionName: string;
  /**
   * Checkpoint of the partition furthest behind (of the projection when not partitioned);
   * `null` when that partition has not committed a batch yet.
   */
  checkpoint: Checkpoint | null;
  /** Checkpoint of the newest event in the log; `null` when the log is empty. */
  headCheckpoint: Checkpoint | null;
  /**
   * Global position of the newest event in the log; `null` when the log is empty, or (fallback
   * count only) when no event lies after the checkpoint, so its position was not read.
   */
  headPosition: number | null;
  /** Events after the checkpoint of the partition furthest behind; 0 when caught up. */
  eventsBehind: number;
  /** Whether every reported partition has read the whole log. */
  caughtUp: boolean;
  /** One entry per reported partition, by partition key. */
  partitions: ProjectionPartitionStatus[];
  /**
   * How the numbers were obtained: `'logStatus'` from the store's `getLogStatus` (cheap), or
   * `'scan'` by reading the events after the checkpoint (stores without `getLogStatus`).
   */
  source: 'logStatus' | 'scan';
}

/**
 * Reports a projection's progress for operators: its checkpoint, the newest event in the log, and
 * how many events it is behind. Reads everything in one transaction and never changes anything.
 *
 * For a partitioned projection pass `totalPartitions`: every partition is reported (or only
 * `partitionKey`), and the top-level `checkpoint` and `eventsBehind` are those of the partition
 * furthest behind. A partition reads (and skips) every event of the log, so each one's
 * `eventsBehind` counts all events after its checkpoint.
 *
 * Stores with `getLogStatus` answer cheaply (the adapters of pup have it). For other stores the
 * events after the checkpoint are read and counted in pages of `scanBatchSize`: correct, but the
 * cost grows with how far behind the projection is.
 *
 * @param projectionOrName The projection, or its name.
 * @throws {InvalidConfigError} on an invalid name, `totalPartitions` or `partitionKey`.
 * @throws {InvalidArgumentError} on an invalid `scanBatchSize`.
 *
 * @example
 * const status = await getProjectionStatus(store, 'order-totals', { totalPartitions: 4 });
 * if (status.eventsBehind > 10_000) alert(`order-totals is ${status.eventsBehind} events behind`);
 */
export async function getProjectionStatus<Tx, E extends object = DomainEvent>(
  typedStore: EventStore<Tx, E>,
  projectionOrName: Projection<Tx, E> | string,
  options: ProjectionStatusOptions = {},
): Promise<ProjectionStatus> {
  // Only positions are read here: payload types do not matter.
  const store = typedStore as EventStore<Tx>;
  const projectionName =
    typeof projectionOrName === 'string' ? projectionOrName : projectionOrName?.name;
  const totalPartitions = options?.totalPartitions ?? 1;
  const keys: number[] = [];
  if (options?.partitionKey !== undefined) {
    keys.push(options.partitionKey);
  } else {
    for (let key = 0; key < totalPartitions; key++) keys.push(key);
  }
  const names = keys.map((key) => projectionCheckpointName(projectionName, key, totalPartitions));
  const scanBatchSize = options?.scanBatchSize ?? 1000;
  if (!Number.isSafeInteger(scanBatchSize) || scanBatchSize < 1 || scanBatchSize > MAX_READ_LIMIT) {
    throw new InvalidArgumentError(
      'scanBatchSize',
      `must be an integer from 1 to ${MAX_READ_LIMIT}`,
    );
  }

  return store.transaction(async (tx) => {
    const checkpoints: (Checkpoint | null)[] = [];
    for (const name of names) checkpoints.push(await store.getCheckpoint(tx, name));
    const furthestBehind = checkpoints.reduce((min, c) => (isBefore(c, min) ? c : min));

    let headCheckpoint: Checkpoint | null;
    let headPosition: number | null;
    let behind: number[];
    let source: ProjectionStatus['source'];
    if (typeof store.getLogStatus === 'function') {
      source = 'logStatus';
      behind = [];
      let head: LogStatus | undefined;
      for (const checkpoint of checkpoints) {
        head = await store.getLogStatus(tx, { after: checkpoint });
        behind.push(head.eventsAfter);
      }
      headCheckpoint = head?.headCheckpoint ?? null;
      headPosition = head?.headPosition ?? null;
    } else {
      source = 'scan';
      behind = checkpoints.map(() => 0);
      headCheckpoint = furthestBehind;
      headPosition = null;
      let after = furthestBehind;
      for (;;) {
        const page = await store.readEvents(tx, { after, limit: scanBatchSize });
        for (const event of page) {
          checkpoints.forEach((checkpoint, i) => {
            if (isBefore(checkpoint, event.checkpoint)) behind[i]!++;
          });
        }
        const last = page[page.length - 1];
        if (last === undefined) break;
        after = headCheckpoint = last.checkpoint;
        headPosition = last.globalPosition;
        if (page.length < scanBatchSize) break;
      }
    }

    const partitions = keys.map((partitionKey, i) => ({
      partitionKey,
      checkpointName: names[i]!,
      checkpoint: checkpoints[i]!,
      eventsBehind: behind[i]!,
    }));
    const eventsBehind = Math.max(...behind);
    return {
      projectionName,
      checkpoint: furthestBehind,
      headCheckpoint,
      headPosition,
      eventsBehind,
      caughtUp: eventsBehind === 0,
      partitions,
      source,
    };
  });
}

/** Whether checkpoint `a` lies before `b`; `null` (never saved) lies before everything. */
function isBefore(a: Checkpoint | null, b: Checkpoint | null): boolean {
  return compareCheckpoints(a, b) < 0;
}
