// Projection workers on the in-memory store when one worker is killed (its presence lease stays
// unexpired until its TTL) at the moment another stops cleanly: the live workers claim the freed
// segments at once, beyond their share if need be, keep them without moving them back and forth,
// and settle on the fair share once the killed worker's presence expires; every event is applied
// once throughout.
import { describe, expect, it } from 'vitest';
import {
  CheckpointTableReadModel,
  recordingProjection,
} from '../src/conformance/projections/support.js';
import {
  createInMemoryEventStore,
  ExpectedVersion,
  type PersistedEvent,
  type ProjectionLeases,
  ProjectionWorker,
  StoreClosedError,
  waitForProjection,
} from '../src/index.js';

type Store = ReturnType<typeof createInMemoryEventStore>;

/** Long against the heartbeat: whatever happens before it expires is not a TTL takeover. */
const LEASE_TTL_MS = 2000;
const HEARTBEAT_MS = 25;
const AGGREGATES = 12;
const PROJECTION = 'rebalance';

function worker(store: Store, workerId: string, segments: number): ProjectionWorker<any> {
  return new ProjectionWorker(store, {
    segments,
    leaseTtlMs: LEASE_TTL_MS,
    heartbeatMs: HEARTBEAT_MS,
    workerId,
    batchSize: 5,
    pollIntervalMs: 5,
  });
}

/**
 * A view of `store` for a worker that can be killed like a SIGKILLed process: from `kill()` on,
 * its transactions fail, so it commits nothing more, renews nothing and releases nothing (its
 * leases stay until they expire).
 */
function killable(store: Store): { view: Store; kill: () => void } {
  let killed = false;
  const view: Store = Object.create(store);
  view.transaction = (fn, options) =>
    killed ? Promise.reject(new StoreClosedError('killed worker')) : store.transaction(fn, options);
  return { view, kill: () => (killed = true) };
}

async function until(
  condition: () => boolean | Promise<boolean>,
  what: () => string,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`not in time: ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

const readLeases = (store: Store): Promise<ProjectionLeases> =>
  store.transaction((tx) => store.readLeases(tx, PROJECTION));

/** The expiry of a worker's presence lease, or undefined without one. */
const presenceOf = (table: ProjectionLeases, workerId: string): number | undefined =>
  table.leases.find((lease) => lease.key === `w:${workerId}`)?.expiresAt;

/** Owner (unexpired leases only) and epoch of every segment. */
function segmentsOf(table: ProjectionLeases, segments: number) {
  return Array.from({ length: segments }, (_, k) => {
    const lease = table.leases.find((l) => l.key === `s${k}`);
    const owner = lease !== undefined && lease.expiresAt > table.now ? lease.owner : null;
    return { owner, epoch: lease?.epoch ?? 0 };
  });
}

/** Waits until `workerId` renewed its presence `count` times; a heartbeat is one renewal. */
async function heartbeats(store: Store, workerId: string, count: number): Promise<void> {
  let last = presenceOf(await readLeases(store), workerId);
  let seen = 0;
  await until(
    async () => {
      const now = presenceOf(await readLeases(store), workerId);
      if (now !== last) seen += 1;
      last = now;
      return seen >= count;
    },
    () => `${workerId} renewed its presence ${seen} of ${count} times`,
  );
}

/** The fair share of each worker: `segments / W`, the remainder to the first ones by id. */
function fairShares(ids: readonly string[], segments: number): Map<string, number> {
  const ranked = [...ids].sort();
  return new Map(
    ranked.map((id, rank) => [
      id,
      Math.floor(segments / ranked.length) + (rank < segments % ranked.length ? 1 : 0),
    ]),
  );
}

interface Scenario {
  segments: number;
  /** Workers that keep running. */
  live: string[];
  /** Killed while holding its share. */
  killed: string;
  /** Stopped cleanly at the same moment, and started again once the killed one expired. */
  leaver: string;
}

async function runScenario({ segments, live, killed, leaver }: Scenario): Promise<void> {
  const store = createInMemoryEventStore();
  const readModel = new CheckpointTableReadModel(store);
  const projection = recordingProjection(readModel, { name: PROJECTION });
  const appended: PersistedEvent[] = [];
  const appendRound = async (round: number): Promise<void> => {
    for (let i = 0; i < AGGREGATES; i++) {
      const result = await store.appendToStream(ExpectedVersion.any(), [
        {
          boundedContext: 'ctx',
          aggregateType: 'Thing',
          aggregateId: `t-${i}`,
          eventType: 'Happened',
          payload: { round },
        },
      ]);
      appended.push(...result.events);
    }
  };

  const { view, kill } = killable(store);
  const workers = new Map<string, ProjectionWorker<any>>(
    [...live, leaver].map((id) => [id, worker(store, id, segments)]),
  );
  workers.set(killed, worker(view, killed, segments));
  const controllers = new Map<string, AbortController>();
  const runs = new Map<string, Promise<void>>();
  const start = (id: string): void => {
    const controller = new AbortController();
    controllers.set(id, controller);
    runs.set(id, workers.get(id)!.run(projection, { signal: controller.signal }));
  };
  const owned = (id: string): number[] => workers.get(id)!.ownedSegments();
  const split = (ids: readonly string[]): string =>
    ids.map((id) => `${id} [${owned(id)}]`).join(', ');
  const settled = async (ids: readonly string[]): Promise<void> => {
    const shares = fairShares(ids, segments);
    await until(
      () => ids.every((id) => owned(id).length === shares.get(id)),
      () => `no fair split: ${split(ids)}`,
    );
  };

  try {
    for (const id of [...live, leaver, killed]) start(id);
    await appendRound(1);
    await settled([...live, leaver, killed]);
    // The others see the worker to be killed renew its presence a few times.
    await heartbeats(store, killed, 3);
    await heartbeats(store, live[0]!, 3);
    const killedSegments = owned(killed);

    kill();
    controllers.get(leaver)!.abort();
    await runs.get(leaver);
    await expect(runs.get(killed)).rejects.toBeInstanceOf(StoreClosedError);
    const killedPresence = presenceOf(await readLeases(store), killed)!;

    // The live workers take every segment but the killed worker's (still leased), before its
    // presence expires: none stays unowned while a live worker could run it.
    let table = await readLeases(store);
    let renewals = 0;
    let lastRenewal = presenceOf(table, live[0]!);
    await until(
      async () => {
        table = await readLeases(store);
        const renewal = presenceOf(table, live[0]!);
        if (renewal !== lastRenewal) renewals += 1;
        lastRenewal = renewal;
        return live.reduce((n, id) => n + owned(id).length, 0) === segments - killedSegments.length;
      },
      () => `the freed segments are not all claimed: ${split(live)}`,
      LEASE_TTL_MS,
    );
    expect(table.now).toBeLessThan(killedPresence);
    // A few heartbeats (the killed worker is seen missing two of its own), nowhere near the TTL.
    expect(renewals).toBeLessThanOrEqual(8);
    const claimed = segmentsOf(table, segments);
    for (let k = 0; k < segments; k++) {
      const owner = killedSegments.includes(k) ? killed : live.find((id) => owned(id).includes(k));
      expect(claimed[k]!.owner, `owner of segment ${k}`).toBe(owner);
    }
    expect(new Set(live.flatMap(owned)).size).toBe(segments - killedSegments.length);
    await appendRound(2);

    // Stable: no segment moves while the killed worker is still counted.
    await heartbeats(store, live[0]!, 5);
    const later = await readLeases(store);
    expect(later.now).toBeLessThan(killedPresence);
    expect(segmentsOf(later, segments)).toEqual(claimed);

    // Once the killed worker's leases expire, the live workers take its segments too, and the
    // restarted leaver gets its fair share back.
    await until(
      () => live.reduce((n, id) => n + owned(id).length, 0) === segments,
      () => `the killed worker's segments are not taken over: ${split(live)}`,
      LEASE_TTL_MS + 5000,
    );
    expect((await readLeases(store)).now).toBeGreaterThanOrEqual(killedPresence);
    start(leaver);
    await settled([...live, leaver]);
    const fair = segmentsOf(await readLeases(store), segments);
    await heartbeats(store, live[0]!, 5);
    expect(segmentsOf(await readLeases(store), segments)).toEqual(fair);

    await appendRound(3);
    await waitForProjection(store, projection, appended.at(-1)!.checkpoint, {
      timeoutMs: 5000,
      totalPartitions: segments,
    });
  } finally {
    kill();
    for (const controller of controllers.values()) controller.abort();
  }
  for (const id of [...live, leaver]) await runs.get(id);

  // Every event applied once: per event, and per aggregate (one event per round each).
  await readModel.assertApplied(appended, () => true);
  const counts = await readModel.counts(appended);
  const perAggregate = new Map<string, number>();
  for (const event of appended) {
    perAggregate.set(
      event.aggregateId,
      (perAggregate.get(event.aggregateId) ?? 0) + counts.get(event.eventId)!,
    );
  }
  expect(perAggregate.size).toBe(AGGREGATES);
  expect([...perAggregate.values()].every((n) => n === 3)).toBe(true);
}

describe('ProjectionWorker rebalancing around a killed worker', () => {
  it(
    'one live worker claims both freed segments before the TTL, then splits 3/3 again',
    () => runScenario({ segments: 6, live: ['a'], killed: 'c', leaver: 'b' }),
    20_000,
  );

  it(
    'two live workers claiming beyond their share at once never claim a segment twice',
    () => runScenario({ segments: 12, live: ['a', 'b'], killed: 'd', leaver: 'c' }),
    20_000,
  );
});
