// Projection workers on the in-memory store: leases, rebalancing, takeover after the TTL,
// fencing, and what a store without lease methods gets.
import { describe, expect, it } from 'vitest';
import {
  createInMemoryEventStore,
  type EventStore,
  ExpectedVersion,
  getProjectionWorkerStatus,
  type InMemoryTransaction,
  InvalidArgumentError,
  InvalidConfigError,
  LeaseLostError,
  type Logger,
  type PersistedEvent,
  ProjectionError,
  ProjectionProcessor,
  ProjectionWorker,
  StoreClosedError,
  waitForProjection,
} from '../src/index.js';

const streamOf = (id: string) => ({
  boundedContext: 'ctx',
  aggregateType: 'Thing',
  aggregateId: id,
});

async function seed(store: EventStore<InMemoryTransaction>, streams: number) {
  let last = null as Awaited<ReturnType<typeof store.appendToStream>> | null;
  for (let i = 0; i < streams; i++) {
    last = await store.appendToStream(ExpectedVersion.any(), [
      { ...streamOf(`t-${i}`), eventType: 'Happened', payload: { i } },
      { ...streamOf(`t-${i}`), eventType: 'Happened', payload: { i, again: true } },
    ]);
  }
  return last!;
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const config = (workerId: string) => ({
  segments: 4,
  leaseTtlMs: 300,
  heartbeatMs: 30,
  workerId,
  pollIntervalMs: 10,
});

describe('ProjectionWorker', () => {
  it('validates its configuration and the store', () => {
    const store = createInMemoryEventStore();
    expect(() => new ProjectionWorker(store, { segments: 0 })).toThrow(InvalidConfigError);
    expect(() => new ProjectionWorker(store, { leaseTtlMs: 100, heartbeatMs: 100 })).toThrow(
      InvalidConfigError,
    );
    expect(() => new ProjectionWorker(store, { workerId: '' })).toThrow(InvalidConfigError);
    const worker = new ProjectionWorker(store);
    expect(worker.segments).toBe(8);
    expect(worker.leaseTtlMs).toBe(10_000);
    expect(worker.heartbeatMs).toBe(3333);
    const { readLeases: _r, ...withoutLeases } = store;
    expect(() => new ProjectionWorker(withoutLeases as EventStore<InMemoryTransaction>)).toThrow(
      InvalidConfigError,
    );
  });

  it('store lease methods validate their input', async () => {
    const store = createInMemoryEventStore();
    await expect(
      store.transaction((tx) =>
        store.saveLease(tx, 'p', { key: '', owner: null, epoch: 0, expiresAt: 0 }),
      ),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(
      store.transaction((tx) =>
        store.saveLease(tx, 'p', { key: 's0', owner: 'w', epoch: -1, expiresAt: 0 }),
      ),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
    await store.transaction((tx) =>
      store.saveLease(tx, 'p', { key: 's0', owner: 'w', epoch: 3, expiresAt: 42 }),
    );
    const { leases } = await store.transaction((tx) => store.readLeases(tx, 'p'));
    expect(leases).toEqual([{ key: 's0', owner: 'w', epoch: 3, expiresAt: 42 }]);
    // A rolled-back transaction leaves the lease as it was.
    await expect(
      store.transaction(async (tx) => {
        await store.deleteLease(tx, 'p', 's0');
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(await store.transaction((tx) => store.lockLease(tx, 'p', 's0'))).toEqual(leases[0]);
  });

  it('rebalances 1 → 2 → 1 workers and applies every event once', async () => {
    const store = createInMemoryEventStore();
    const applied = new Map<string, number>();
    const projection = {
      name: 'counts',
      handle(event: PersistedEvent) {
        applied.set(event.eventId, (applied.get(event.eventId) ?? 0) + 1);
      },
    };
    const a = new ProjectionWorker(store, config('a'));
    const b = new ProjectionWorker(store, config('b'));
    const stopA = new AbortController();
    const stopB = new AbortController();
    const runA = a.run(projection, { signal: stopA.signal });
    await until(() => a.ownedSegments().length === 4);
    await seed(store, 10);
    const runB = b.run(projection, { signal: stopB.signal });
    await until(() => a.ownedSegments().length === 2 && b.ownedSegments().length === 2);
    expect([...a.ownedSegments(), ...b.ownedSegments()].sort()).toEqual([0, 1, 2, 3]);
    const last = await seed(store, 10);
    await waitForProjection(store, projection, last, { timeoutMs: 5000 });
    stopB.abort();
    await runB;
    await until(() => a.ownedSegments().length === 4);
    const final = await seed(store, 5);
    await waitForProjection(store, projection, final, { timeoutMs: 5000 });
    stopA.abort();
    await runA;
    expect(applied.size).toBe(50);
    expect([...applied.values()].every((n) => n === 1)).toBe(true);
    // A stopped worker releases its leases and its presence.
    const { leases } = await store.transaction((tx) => store.readLeases(tx, 'counts'));
    expect(leases.filter((l) => l.owner !== null)).toEqual([]);
  });

  it('reports owners, leases, checkpoints and lag per segment', async () => {
    const store = createInMemoryEventStore();
    const last = await seed(store, 5);
    await expect(getProjectionWorkerStatus(store, 'status')).resolves.toMatchObject({
      segments: 0,
      workers: [],
      segmentStatus: [],
    });
    const worker = new ProjectionWorker(store, config('only'));
    const stop = new AbortController();
    const run = worker.run({ name: 'status', handle() {} }, { signal: stop.signal });
    await until(() => worker.ownedSegments().length === 4);
    await waitForProjection(store, 'status', last, { timeoutMs: 5000 });
    const status = await getProjectionWorkerStatus(store, 'status');
    expect(status).toMatchObject({
      segments: 4,
      workers: ['only'],
      caughtUp: true,
      deadLetters: 0,
    });
    for (const segment of status.segmentStatus) {
      expect(segment.owner).toBe('only');
      expect(segment.epoch).toBe(1);
      expect(segment.leaseExpiresInMs).toBeGreaterThan(0);
      expect(segment.checkpoint).toBe(last.events.at(-1)!.checkpoint);
      expect(segment.eventsBehind).toBe(0);
    }
    stop.abort();
    await run;
    const after = await getProjectionWorkerStatus(store, 'status');
    expect(after.workers).toEqual([]);
    expect(after.segmentStatus.map((s) => s.owner)).toEqual([null, null, null, null]);
    await expect(getProjectionWorkerStatus(store, '')).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('a handler failure stops the worker with ProjectionError and releases its leases', async () => {
    const store = createInMemoryEventStore();
    await seed(store, 3);
    const worker = new ProjectionWorker(store, config('failing'));
    const failing = worker.run({
      name: 'failing',
      handle() {
        throw new Error('broken read model');
      },
    });
    await expect(failing).rejects.toBeInstanceOf(ProjectionError);
    expect(worker.ownedSegments()).toEqual([]);
    const { leases } = await store.transaction((tx) => store.readLeases(tx, 'failing'));
    expect(leases.filter((l) => l.owner !== null)).toEqual([]);
    // The same worker object can run again once stopped; a second concurrent run is refused.
    const stop = new AbortController();
    const again = worker.run({ name: 'other', handle() {} }, { signal: stop.signal });
    await expect(worker.run({ name: 'other', handle() {} })).rejects.toBeInstanceOf(
      InvalidConfigError,
    );
    stop.abort();
    await again;
  });

  it('refuses to run with fewer segments than the lease table holds', async () => {
    const store = createInMemoryEventStore();
    const four = new ProjectionWorker(store, config('four'));
    const stop = new AbortController();
    const run = four.run({ name: 'mixed', handle() {} }, { signal: stop.signal });
    await until(() => four.ownedSegments().length === 4);
    const two = new ProjectionWorker(store, { ...config('two'), segments: 2 });
    await expect(two.run({ name: 'mixed', handle() {} })).rejects.toBeInstanceOf(
      InvalidConfigError,
    );
    stop.abort();
    await run;
  });

  it('a closed store stops the worker with StoreClosedError', async () => {
    const store = createInMemoryEventStore();
    const worker = new ProjectionWorker(store, config('closing'));
    const run = worker.run({ name: 'closing', handle() {} });
    await until(() => worker.ownedSegments().length === 4);
    await store.close();
    await expect(run).rejects.toBeInstanceOf(StoreClosedError);
  });

  it("takes a dead worker's segments over only after their TTL", async () => {
    const store = createInMemoryEventStore();
    const last = await seed(store, 6);
    const expiresAt = Date.now() + 250;
    await store.transaction(async (tx) => {
      for (let k = 0; k < 4; k++) {
        await store.saveLease(tx, 'p', { key: `s${k}`, owner: 'dead', epoch: 5, expiresAt });
      }
    });
    const worker = new ProjectionWorker(store, config('alive'));
    const stop = new AbortController();
    const run = worker.run({ name: 'p', handle() {} }, { signal: stop.signal });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(worker.ownedSegments()).toEqual([]);
    await until(() => worker.ownedSegments().length === 4);
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt);
    await waitForProjection(store, 'p', last, { timeoutMs: 5000 });
    const { leases } = await store.transaction((tx) => store.readLeases(tx, 'p'));
    expect(leases.filter((l) => l.key.startsWith('s')).map((l) => l.epoch)).toEqual([6, 6, 6, 6]);
    stop.abort();
    await run;
  });

  it("refuses a stale worker's commit and applies the event once", async () => {
    const store = createInMemoryEventStore();
    await seed(store, 1);
    let stolen = false;
    // Seen by the worker: from the first handler call on, someone else holds the lease once.
    const fenced: EventStore<InMemoryTransaction> = Object.create(store);
    fenced.lockLease = async (tx, name, key) => {
      const lease = await store.lockLease(tx, name, key);
      if (!stolen || lease === null) return lease;
      stolen = false;
      return { ...lease, owner: 'successor', epoch: lease.epoch + 1 };
    };
    const logs: string[] = [];
    const logger: Logger = {
      debug() {},
      info: (message) => logs.push(message),
      warn() {},
      error() {},
    };
    let calls = 0;
    const committed: string[] = [];
    const projection = {
      name: 'fenced',
      async handle(event: PersistedEvent, { tx }: { tx: InMemoryTransaction }) {
        calls += 1;
        if (calls === 1) stolen = true;
        // A read model in the same transaction: the checkpoints table.
        await store.saveCheckpoint(tx, `rm:${event.eventId}`, event.checkpoint);
        committed.push(event.eventId);
      },
    };
    const worker = new ProjectionWorker(fenced, { ...config('w'), segments: 1, logger });
    const stop = new AbortController();
    const run = worker.run(projection, { signal: stop.signal });
    await until(() => logs.includes('projection stopped: lease lost'));
    await until(() => calls >= 4);
    const log = await store.transaction((tx) => store.readEvents(tx, { limit: 10 }));
    await waitForProjection(store, 'fenced', log.at(-1)!.checkpoint, { timeoutMs: 5000 });
    stop.abort();
    await run;
    expect(calls).toBe(4);
    const saved = await store.transaction((tx) => store.listCheckpoints(tx));
    expect(saved.filter((c) => c.projectionName.startsWith('rm:')).length).toBe(2);
    expect(new LeaseLostError('p', 3).code).toBe('LEASE_LOST');
  });

  it('onError is validated; deadLetter needs a store that records dead letters', async () => {
    const store = createInMemoryEventStore();
    const processor = new ProjectionProcessor(store);
    const handle = () => {};
    await expect(
      processor.run({ name: 'p', handle, onError: { policy: 'skip' } as never }),
    ).rejects.toBeInstanceOf(InvalidConfigError);
    await expect(
      processor.run({ name: 'p', handle, onError: { policy: 'retry', maxAttempts: 0 } }),
    ).rejects.toBeInstanceOf(InvalidConfigError);
    const { saveDeadLetter: _s, ...withoutDeadLetters } = store;
    await expect(
      new ProjectionProcessor(withoutDeadLetters as EventStore<InMemoryTransaction>).run({
        name: 'p',
        handle,
        onError: { policy: 'deadLetter' },
      }),
    ).rejects.toBeInstanceOf(InvalidConfigError);
    await expect(
      store.transaction((tx) =>
        store.saveDeadLetter(tx, {
          projectionName: 'p',
          globalPosition: 0,
          checkpoint: 'x',
          error: '',
          failedAt: 0,
        }),
      ),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('a dead letter keeps a bounded, well-formed error text', async () => {
    const store = createInMemoryEventStore();
    const last = await seed(store, 1);
    const processor = new ProjectionProcessor(store, { pollIntervalMs: 5 });
    const controller = new AbortController();
    const run = processor.run(
      {
        name: 'dl',
        onError: { policy: 'deadLetter' },
        handle(event) {
          if (event.eventId === last.events[0]!.eventId) {
            throw new Error(`bad\u0000${'x'.repeat(5000)}`);
          }
        },
      },
      { signal: controller.signal },
    );
    await waitForProjection(store, 'dl', last, { timeoutMs: 5000 });
    controller.abort();
    await run;
    const [deadLetter, ...rest] = await store.transaction((tx) => store.listDeadLetters(tx, 'dl'));
    expect(rest).toEqual([]);
    expect(deadLetter!.globalPosition).toBe(last.events[0]!.globalPosition);
    expect(deadLetter!.error.length).toBe(4000);
    expect(deadLetter!.error.startsWith('bad\ufffdx')).toBe(true);
  });

  it('waitForProjection waits for every segment, honours its signal, and checks input', async () => {
    const store = createInMemoryEventStore();
    const last = await seed(store, 2);
    await store.transaction(async (tx) => {
      for (let k = 0; k < 2; k++) {
        await store.saveLease(tx, 'two', { key: `s${k}`, owner: null, epoch: 1, expiresAt: 0 });
      }
      await store.saveCheckpoint(tx, 'two_p0', last.events.at(-1)!.checkpoint);
    });
    const controller = new AbortController();
    const waiting = waitForProjection(store, 'two', last, { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await expect(waiting).rejects.toMatchObject({ code: 'ABORTED', timedOut: false });
    await store.transaction((tx) => store.saveCheckpoint(tx, 'two_p1', last.events[0]!.checkpoint));
    await expect(waitForProjection(store, 'two', last, { timeoutMs: 60 })).rejects.toMatchObject({
      code: 'ABORTED',
      timedOut: true,
    });
    await store.transaction((tx) =>
      store.saveCheckpoint(tx, 'two_p1', last.events.at(-1)!.checkpoint),
    );
    await waitForProjection(store, 'two', last, { timeoutMs: 1000 });
    await expect(waitForProjection(store, '', last)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(waitForProjection(store, 'two', 42 as never)).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
  });
});
