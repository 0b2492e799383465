import { isAbortSignal } from '../abort-signal.js';
import {
  InvalidArgumentError,
  InvalidConfigError,
  isTransientError,
  LeaseLostError,
  StoreClosedError,
} from '../errors.js';
import type { DomainEvent } from '../typed-events.js';
import type { EventStore, ProjectionLease } from '../types.js';
import { uuidv7 } from '../uuid.js';
import {
  assertErrorPolicySupported,
  assertProjectionStore,
  type ResolvedProjection,
  type ResolvedProjectionProcessorConfig,
  resolveProjection,
  resolveProjectionProcessorConfig,
} from './config.js';
import { hashPartitionStrategy } from './partition.js';
import { ProjectionRun } from './processor.js';
import type { Projection, ProjectionProcessorConfig, RunOptions } from './types.js';
import { sleep } from './wait.js';

/** Configuration of a {@link ProjectionWorker}. */
export interface ProjectionWorkerConfig
  extends Omit<
    ProjectionProcessorConfig,
    'partitionKey' | 'totalPartitions' | 'partitionStrategy'
  > {
  /**
   * How many segments the projection's work is split into: segment `k` of `n` handles the
   * aggregates with `fnv1a32(aggregateId) % n === k` (the same split as `hashPartitionStrategy`
   * with `totalPartitions: n`, and the same checkpoint names, `<name>_p<k>`). Every worker of a
   * projection must use the same number; it bounds how many workers can share the work.
   * @default 8
   */
  segments?: number;
  /**
   * How long a lease lasts without a heartbeat, in milliseconds (by the database's clock). A
   * worker that died or stalled loses its segments this long after its last heartbeat.
   * @default 10000
   */
  leaseTtlMs?: number;
  /**
   * How often the worker renews its leases and rebalances, in milliseconds; below `leaseTtlMs`.
   * @default a third of leaseTtlMs
   */
  heartbeatMs?: number;
  /**
   * This worker's id in the lease table (at most 200 characters). Unique per running worker.
   * @default a random UUID
   */
  workerId?: string;
}

interface ResolvedWorkerConfig {
  segments: number;
  leaseTtlMs: number;
  heartbeatMs: number;
  workerId: string;
  processor: ResolvedProjectionProcessorConfig;
}

/** What a worker last saw of another worker's presence lease. */
interface SeenPresence {
  /** The lease's expiry, which every heartbeat of that worker raises. */
  expiresAt: number;
  /** When this worker first read that expiry (by the database's clock). */
  seenAt: number;
  /** How far its last heartbeat moved the expiry (its heartbeat interval); unknown until seen. */
  interval: number | undefined;
}

/** One segment this worker runs. */
interface HeldSegment {
  epoch: number;
  controller: AbortController;
  done: Promise<void>;
}

const MAX_SEGMENTS = 1024;
const MAX_TIMEOUT_MS = 2_147_483_647;

/** The lease key of a segment. */
export const segmentLeaseKey = (segment: number): string => `s${segment}`;
/** The row every rebalancing transaction writes first, so that they take turns. */
const REBALANCE_LOCK = { key: 'lock', owner: null, epoch: 0, expiresAt: 0 } as const;
/** The lease key of a worker's presence. */
const workerLeaseKey = (workerId: string): string => `w:${workerId}`;

/**
 * Runs a projection as one of any number of self-balancing workers (processes, on any machines)
 * coordinated only through the store's lease table. The projection's work is split into a fixed
 * number of `segments`, each with its own checkpoint; every `heartbeatMs` a worker renews the
 * leases of its segments and its own presence, and rebalances: with `W` live workers each holds
 * its fair share (`segments / W`, the remainder going to the first workers by id), releasing
 * extra segments and claiming free or expired ones. A worker that dies or stalls loses its
 * segments `leaseTtlMs` after its last heartbeat, and the others take them over.
 *
 * Free segments do not wait for a worker that stopped heartbeating. Such a worker (killed or
 * stalled: its presence lease not renewed for twice its usual heartbeat interval, as the others
 * see it) still counts in `W` until its presence expires, but no segment is left free or given
 * back for it: a worker claims free segments beyond its share when no live worker misses them (say
 * one worker was killed while another stopped cleanly), and gives extra segments back only as
 * live workers miss segments. The workers thus return to the fair share once the dead worker's
 * presence expires, without moving segments back and forth.
 *
 * Fencing: each batch checks, in its own transaction and right before saving its checkpoint,
 * that the worker still holds the segment's lease with the same epoch (the row stays locked until
 * commit); otherwise the batch is rolled back with {@link LeaseLostError} and the worker stops
 * that segment. A worker paused past its lease can therefore never commit a batch afterwards, and
 * a read model written through `context.tx` still changes exactly once per event.
 *
 * No session state is used (no advisory locks held across transactions, no `LISTEN` needed), so
 * workers run behind PgBouncer in transaction mode or a cloud proxy.
 *
 * The store needs the lease methods (`readLeases`, `saveLease`, `deleteLease`, `lockLease`): the
 * in-memory store and every adapter of pup have them, after `migrate()`.
 *
 * @example
 * const worker = new ProjectionWorker(store, { segments: 8, leaseTtlMs: 10_000 });
 * const controller = new AbortController();
 * process.once('SIGTERM', () => controller.abort());
 * await worker.run(orderTotals, { signal: controller.signal });
 */
export class ProjectionWorker<Tx = unknown, E extends object = DomainEvent> {
  /** The store the worker reads from and keeps its leases in. */
  readonly store: EventStore<Tx, E>;
  /** This worker's id in the lease table. */
  readonly workerId: string;
  /** How many segments the projection is split into. */
  readonly segments: number;
  /** Lease duration without a heartbeat, in milliseconds. */
  readonly leaseTtlMs: number;
  /** Interval of heartbeats and rebalancing, in milliseconds. */
  readonly heartbeatMs: number;
  private readonly processorConfig: ResolvedProjectionProcessorConfig;
  private readonly held = new Map<number, HeldSegment>();
  private readonly stopping = new Map<number, Promise<void>>();
  /** The other workers' presence leases as this worker's heartbeats saw them, by worker id. */
  private readonly seen = new Map<string, SeenPresence>();
  private running = false;

  /**
   * @throws {InvalidConfigError} when `store` lacks the lease methods or an option is invalid.
   */
  constructor(store: EventStore<Tx, E>, config?: ProjectionWorkerConfig) {
    assertProjectionStore(store);
    assertLeaseStore(store);
    const resolved = resolveWorkerConfig(config);
    this.store = store;
    this.workerId = resolved.workerId;
    this.segments = resolved.segments;
    this.leaseTtlMs = resolved.leaseTtlMs;
    this.heartbeatMs = resolved.heartbeatMs;
    this.processorConfig = resolved.processor;
  }

  /** The segments this worker currently runs, in order. */
  ownedSegments(): number[] {
    return [...this.held.keys()].sort((a, b) => a - b);
  }

  /**
   * Runs the projection until `options.signal` aborts, then stops its segments (a batch in
   * flight rolls back), releases its leases so other workers take them over at once, and
   * resolves.
   *
   * @throws {InvalidConfigError} (as a rejection) on an invalid projection, or when this worker
   * is already running.
   * @throws {ProjectionError} (as a rejection) when a handler fails (after the projection's
   * `onError` retries) or the store keeps failing; the worker's other segments are stopped and its
   * leases released first.
   * @throws {StoreClosedError} (as a rejection) when the store was closed under the run.
   */
  async run(projection: Projection<Tx, E>, options: RunOptions = {}): Promise<void> {
    const resolved = resolveProjection(projection as Projection<Tx, any>);
    assertErrorPolicySupported(this.store, resolved);
    const signal = options?.signal ?? new AbortController().signal;
    if (!isAbortSignal(signal)) throw new InvalidArgumentError('signal', 'must be an AbortSignal');
    if (signal.aborted) return;
    if (this.running) {
      throw new InvalidConfigError('worker', 'is already running; create one worker per run');
    }
    this.running = true;
    this.seen.clear();
    const logger = this.processorConfig.logger;
    const fields = { projection: resolved.name, workerId: this.workerId, segments: this.segments };
    // Aborted when the run stops: by the caller, or because a segment failed.
    const stop = new AbortController();
    const onAbort = (): void => stop.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    let failure: { error: unknown } | undefined;
    const fail = (error: unknown): void => {
      failure ??= { error };
      stop.abort();
    };
    logger?.info('projection worker started', {
      ...fields,
      leaseTtlMs: this.leaseTtlMs,
      heartbeatMs: this.heartbeatMs,
    });
    try {
      while (!stop.signal.aborted) {
        try {
          await this.maintain(resolved, stop.signal, fail);
        } catch (error) {
          if (stop.signal.aborted) break;
          if (error instanceof StoreClosedError || !isTransientError(error)) {
            fail(error);
            break;
          }
          logger?.warn('projection worker heartbeat failed; retrying', { ...fields, error });
        }
        await sleep(this.heartbeatMs, stop.signal);
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      stop.abort();
      await this.stopAll();
      await this.releaseAll(resolved.name).catch((error: unknown) => {
        logger?.warn('projection worker could not release its leases', { ...fields, error });
      });
      this.running = false;
    }
    if (failure !== undefined) {
      logger?.error('projection worker failed', { ...fields, error: failure.error });
      throw failure.error;
    }
    logger?.info('projection worker stopped', fields);
  }

  /** One heartbeat: renew, rebalance, start and stop segments. */
  private async maintain(
    resolved: ResolvedProjection<Tx>,
    signal: AbortSignal,
    fail: (error: unknown) => void,
  ): Promise<void> {
    const store = this.store as EventStore<Tx>;
    const name = resolved.name;
    const { workerId, segments, leaseTtlMs } = this;
    const claimed: { segment: number; epoch: number }[] = [];
    const dropped: number[] = [];
    const released: number[] = [];
    await store.transaction(
      async (tx) => {
        // Writing the projection's lock row first makes rebalancing transactions of all workers
        // take turns (a row lock, even where no lease row exists yet).
        await store.saveLease!(tx, name, REBALANCE_LOCK);
        const { now, leases } = await store.readLeases!(tx, name);
        const expiresAt = now + leaseTtlMs;
        const rows = new Map(leases.map((lease) => [lease.key, lease]));
        for (const lease of leases) {
          const segment = /^s(0|[1-9][0-9]*)$/.exec(lease.key);
          if (segment !== null && Number(segment[1]) >= segments) {
            throw new InvalidConfigError(
              'segments',
              `is ${segments}, but projection ${JSON.stringify(name)} has a lease of segment ${segment[1]}: every worker of a projection must use the same number of segments`,
            );
          }
        }
        const workers = new Set([workerId]);
        const presence = new Map<string, number>();
        for (const lease of leases) {
          if (!lease.key.startsWith('w:') || lease.owner === null) continue;
          if (lease.expiresAt > now) {
            workers.add(lease.owner);
            if (lease.owner !== workerId) presence.set(lease.owner, lease.expiresAt);
          } else if (lease.expiresAt + leaseTtlMs <= now && lease.owner !== workerId) {
            // A worker gone for a whole TTL: forget it.
            await store.deleteLease!(tx, name, lease.key);
          }
        }
        const relied = this.observePresence(presence, now);
        const self = rows.get(workerLeaseKey(workerId));
        await store.saveLease!(tx, name, {
          key: workerLeaseKey(workerId),
          owner: workerId,
          epoch: self?.epoch ?? 0,
          expiresAt: Math.max(expiresAt, (self?.expiresAt ?? 0) + 1),
        });

        const mine: ProjectionLease[] = [];
        const free: { segment: number; lease: ProjectionLease | undefined }[] = [];
        // Segments nobody holds (by the lease rows), and how many each other worker holds.
        let unowned = 0;
        const holds = new Map<string, number>();
        for (let segment = 0; segment < segments; segment++) {
          const lease = rows.get(segmentLeaseKey(segment));
          const held = this.held.get(segment);
          if (lease === undefined || lease.owner === null || lease.expiresAt <= now) unowned++;
          else if (lease.owner !== workerId) {
            holds.set(lease.owner, (holds.get(lease.owner) ?? 0) + 1);
          }
          if (held !== undefined) {
            if (lease?.owner === workerId && lease.epoch === held.epoch) mine.push(lease);
            else dropped.push(segment);
          } else if (
            (lease === undefined || lease.owner === null || lease.expiresAt <= now) &&
            !this.stopping.has(segment)
          ) {
            free.push({ segment, lease });
          } else if (lease?.owner === workerId && !this.stopping.has(segment)) {
            // Ours from an earlier run with the same worker id: take it over properly.
            free.push({ segment, lease });
          }
        }

        const ranked = [...workers].sort();
        const shareOf = (rank: number): number =>
          Math.floor(segments / ranked.length) + (rank < segments % ranked.length ? 1 : 0);
        const rank = ranked.indexOf(workerId);
        const share = shareOf(rank);
        // What the other workers still miss of their share and will claim themselves: only the
        // workers that renew their presence count; one that stopped doing so (killed, stalled)
        // would leave the segments kept for it unowned until its presence expires.
        let missing = 0;
        ranked.forEach((other, i) => {
          if (other === workerId || !relied.has(other)) return;
          missing += Math.max(0, shareOf(i) - (holds.get(other) ?? 0));
        });
        // Segments beyond the share go back only as far as the others miss more than lies
        // unowned already: never for a worker that is not renewing its presence (it would not
        // take them, and this worker would claim them back), never more than the others take.
        const extra = Math.max(0, mine.length - share);
        const keep = mine.length - Math.min(extra, Math.max(0, missing - unowned));
        for (let i = 0; i < mine.length; i++) {
          const lease = mine[i]!;
          const segment = Number(lease.key.slice(1));
          if (i >= keep) {
            await store.saveLease!(tx, name, { ...lease, owner: null, expiresAt: 0 });
            released.push(segment);
            unowned++;
          } else {
            await store.saveLease!(tx, name, {
              ...lease,
              expiresAt: Math.max(expiresAt, lease.expiresAt + 1),
            });
          }
        }
        // Up to the share, and beyond it the unowned segments no other worker is going to claim
        // (so none stays unowned while this worker could run it); rebalancing gives them back
        // once a worker misses them. Rebalancing transactions take turns, so a worker claiming
        // after this one sees these claims.
        const wanted = Math.max(0, share - mine.length);
        const base = Math.min(free.length, wanted);
        const spare = Math.max(0, unowned - base - missing);
        // Start looking at a different place per worker, so workers claim different segments.
        const offset =
          free.length === 0 ? 0 : (rank * Math.ceil(segments / ranked.length)) % segments;
        free.sort(
          (a, b) =>
            ((a.segment - offset + segments) % segments) -
            ((b.segment - offset + segments) % segments),
        );
        for (const { segment, lease } of free.slice(0, base + spare)) {
          const epoch = (lease?.epoch ?? 0) + 1;
          await store.saveLease!(tx, name, {
            key: segmentLeaseKey(segment),
            owner: workerId,
            epoch,
            expiresAt,
          });
          claimed.push({ segment, epoch });
        }
      },
      { signal },
    );

    for (const segment of [...dropped, ...released]) this.stopSegment(segment);
    for (const { segment, epoch } of claimed) this.startSegment(resolved, segment, epoch, fail);
    const logger = this.processorConfig.logger;
    if (logger !== undefined && (claimed.length > 0 || dropped.length > 0 || released.length > 0)) {
      logger.info('projection worker leases moved', {
        projection: name,
        workerId,
        claimed: claimed.map((c) => c.segment),
        released,
        lost: dropped,
        owned: this.ownedSegments(),
      });
    }
  }

  /**
   * Records the other workers' presence leases (`presence`: expiry by worker id, unexpired ones
   * only) and returns the workers that keep renewing theirs. A worker's heartbeat raises its
   * expiry by its heartbeat interval, so one whose expiry has not moved for twice that long (as
   * seen by this worker) missed at least one heartbeat: killed or stalled, it will not claim
   * segments. A worker not yet seen renewing (just started) is relied on.
   */
  private observePresence(presence: Map<string, number>, now: number): Set<string> {
    for (const id of this.seen.keys()) if (!presence.has(id)) this.seen.delete(id);
    const relied = new Set<string>();
    for (const [id, expiresAt] of presence) {
      const seen = this.seen.get(id);
      if (seen === undefined || seen.expiresAt !== expiresAt) {
        const moved = seen === undefined ? 0 : expiresAt - seen.expiresAt;
        // Never shorter than this worker's own interval: a clock step cannot make a live worker
        // look stalled within milliseconds.
        const interval = moved > 0 ? Math.max(moved, this.heartbeatMs) : undefined;
        this.seen.set(id, { expiresAt, seenAt: now, interval });
        relied.add(id);
      } else if (seen.interval === undefined || now - seen.seenAt <= 2 * seen.interval) {
        relied.add(id);
      }
    }
    return relied;
  }

  private startSegment(
    resolved: ResolvedProjection<Tx>,
    segment: number,
    epoch: number,
    fail: (error: unknown) => void,
  ): void {
    const store = this.store as EventStore<Tx>;
    const name = resolved.name;
    const key = segmentLeaseKey(segment);
    const workerId = this.workerId;
    const controller = new AbortController();
    const fence = async (tx: Tx): Promise<void> => {
      const lease = await store.lockLease!(tx, name, key);
      if (lease === null || lease.owner !== workerId || lease.epoch !== epoch) {
        throw new LeaseLostError(name, segment);
      }
    };
    const run = new ProjectionRun(
      store,
      {
        ...this.processorConfig,
        partitionKey: segment,
        totalPartitions: this.segments,
        partitionStrategy: hashPartitionStrategy,
      },
      resolved,
      controller.signal,
      { fence, fields: { workerId, segment, epoch } },
    );
    const entry: HeldSegment = { epoch, controller, done: Promise.resolve() };
    entry.done = run.run().then(
      () => {
        if (this.held.get(segment) === entry) this.held.delete(segment);
      },
      (error: unknown) => {
        if (this.held.get(segment) === entry) this.held.delete(segment);
        if (!controller.signal.aborted) fail(error);
      },
    );
    this.held.set(segment, entry);
  }

  private stopSegment(segment: number): void {
    const entry = this.held.get(segment);
    if (entry === undefined) return;
    this.held.delete(segment);
    entry.controller.abort();
    const done = entry.done.finally(() => {
      if (this.stopping.get(segment) === done) this.stopping.delete(segment);
    });
    this.stopping.set(segment, done);
  }

  private async stopAll(): Promise<void> {
    for (const segment of [...this.held.keys()]) this.stopSegment(segment);
    await Promise.all([...this.stopping.values()]);
  }

  /** Releases this worker's segments and presence, so others take them over without a TTL. */
  private async releaseAll(name: string): Promise<void> {
    const store = this.store as EventStore<Tx>;
    const workerId = this.workerId;
    await store.transaction(
      async (tx) => {
        await store.saveLease!(tx, name, REBALANCE_LOCK);
        const { leases } = await store.readLeases!(tx, name);
        for (const lease of leases) {
          if (lease.owner !== workerId) continue;
          if (lease.key === workerLeaseKey(workerId)) {
            await store.deleteLease!(tx, name, lease.key);
          } else {
            await store.saveLease!(tx, name, { ...lease, owner: null, expiresAt: 0 });
          }
        }
      },
      { timeoutMs: Math.max(this.leaseTtlMs, 1000) },
    );
  }
}

/**
 * Whether a store has the lease methods {@link ProjectionWorker} needs.
 */
export function hasLeaseSupport(store: EventStore<any, any>): boolean {
  return (
    typeof store.readLeases === 'function' &&
    typeof store.saveLease === 'function' &&
    typeof store.deleteLease === 'function' &&
    typeof store.lockLease === 'function'
  );
}

function assertLeaseStore(store: EventStore<any, any>): void {
  if (!hasLeaseSupport(store)) {
    throw new InvalidConfigError(
      'store',
      'has no lease methods (readLeases, saveLease, deleteLease, lockLease): its adapter cannot run projection workers',
    );
  }
}

function integerIn(option: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidConfigError(option, `must be an integer from ${min} to ${max}`);
  }
  return value;
}

function resolveWorkerConfig(config: ProjectionWorkerConfig | undefined): ResolvedWorkerConfig {
  if (config !== undefined && config !== null && typeof config !== 'object') {
    throw new InvalidConfigError('config', 'must be an object');
  }
  const { segments, leaseTtlMs, heartbeatMs, workerId, ...rest } = config ?? {};
  const resolvedSegments = integerIn('segments', segments ?? 8, 1, MAX_SEGMENTS);
  const ttl = integerIn('leaseTtlMs', leaseTtlMs ?? 10_000, 10, MAX_TIMEOUT_MS);
  const heartbeat = integerIn(
    'heartbeatMs',
    heartbeatMs ?? Math.max(1, Math.floor(ttl / 3)),
    1,
    ttl - 1,
  );
  const id = workerId ?? uuidv7();
  if (typeof id !== 'string' || id.length === 0 || id.length > 200 || id.includes('\u0000')) {
    throw new InvalidConfigError(
      'workerId',
      'must be a non-empty string of at most 200 characters',
    );
  }
  return {
    segments: resolvedSegments,
    leaseTtlMs: ttl,
    heartbeatMs: heartbeat,
    workerId: id,
    processor: resolveProjectionProcessorConfig(rest),
  };
}
