import { InvalidArgumentError, InvalidConfigError } from '../errors.js';
import type { Checkpoint, EventStore } from '../types.js';
import { getProjectionStatus } from './status.js';
import type { Projection } from './types.js';
import { hasLeaseSupport } from './worker.js';

/** One segment of a projection run by `ProjectionWorker`s, as {@link getProjectionWorkerStatus} sees it. */
export interface ProjectionSegmentStatus {
  /** The segment, from 0. */
  segment: number;
  /** The worker holding its lease; `null` when nobody does (released, expired or never leased). */
  owner: string | null;
  /** The lease's fencing epoch (0 when the segment was never leased). */
  epoch: number;
  /** Milliseconds until the lease expires without a heartbeat (by the database's clock); `null` without owner. */
  leaseExpiresInMs: number | null;
  /** The segment's saved checkpoint (`<name>_p<segment>`); `null` before its first batch. */
  checkpoint: Checkpoint | null;
  /** Events in the log after its checkpoint. */
  eventsBehind: number;
}

/** What {@link getProjectionWorkerStatus} returns. */
export interface ProjectionWorkerStatus {
  /** The projection's name. */
  projectionName: string;
  /** How many segments the projection's lease table holds. */
  segments: number;
  /** Live workers (presence not expired), by id. */
  workers: string[];
  /** One entry per segment, by segment. */
  segmentStatus: ProjectionSegmentStatus[];
  /** Whether every segment has read the whole log. */
  caughtUp: boolean;
  /** How many events the projection set aside as dead letters; `null` when the store cannot say. */
  deadLetters: number | null;
}

/**
 * Reports, for operators, how the workers of a projection share it: the live workers, and for
 * each segment its owner, lease epoch and remaining lease time, checkpoint and how far behind it
 * is, plus the projection's dead-letter count.
 *
 * @param options.segments How many segments the projection runs with; found in the lease table
 * when absent.
 * @throws {InvalidConfigError} (as a rejection) when the store has no lease methods.
 * @throws {InvalidArgumentError} (as a rejection) on an invalid name or `segments`.
 */
export async function getProjectionWorkerStatus<Tx>(
  store: EventStore<Tx, any>,
  projectionOrName: Projection<Tx, any> | string,
  options: { segments?: number } = {},
): Promise<ProjectionWorkerStatus> {
  const name = typeof projectionOrName === 'string' ? projectionOrName : projectionOrName?.name;
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidArgumentError('projection', 'must be a projection or its name');
  }
  if (!hasLeaseSupport(store)) {
    throw new InvalidConfigError('store', 'has no lease methods: it cannot run projection workers');
  }
  const given = options?.segments;
  if (given !== undefined && (!Number.isSafeInteger(given) || given < 1)) {
    throw new InvalidArgumentError('segments', 'must be a positive integer');
  }
  const { now, leases, deadLetters } = await store.transaction(async (tx) => {
    const read = await store.readLeases!(tx, name);
    const letters =
      typeof store.listDeadLetters === 'function'
        ? (await store.listDeadLetters(tx, name)).length
        : null;
    return { ...read, deadLetters: letters };
  });
  const segmentLeases = new Map<number, (typeof leases)[number]>();
  const workers: string[] = [];
  for (const lease of leases) {
    const segment = /^s(0|[1-9][0-9]*)$/.exec(lease.key);
    if (segment !== null) segmentLeases.set(Number(segment[1]), lease);
    else if (lease.key.startsWith('w:') && lease.owner !== null && lease.expiresAt > now) {
      workers.push(lease.owner);
    }
  }
  const segments = given ?? segmentLeases.size;
  if (segments === 0) {
    return {
      projectionName: name,
      segments: 0,
      workers: workers.sort(),
      segmentStatus: [],
      caughtUp: false,
      deadLetters,
    };
  }
  const progress = await getProjectionStatus(store, name, { totalPartitions: segments });
  const segmentStatus = progress.partitions.map((partition): ProjectionSegmentStatus => {
    const lease = segmentLeases.get(partition.partitionKey);
    const owned = lease !== undefined && lease.owner !== null && lease.expiresAt > now;
    return {
      segment: partition.partitionKey,
      owner: owned ? lease.owner : null,
      epoch: lease?.epoch ?? 0,
      leaseExpiresInMs: owned ? lease.expiresAt - now : null,
      checkpoint: partition.checkpoint,
      eventsBehind: partition.eventsBehind,
    };
  });
  return {
    projectionName: name,
    segments,
    workers: workers.sort(),
    segmentStatus,
    caughtUp: progress.caughtUp,
    deadLetters,
  };
}
