import { ExpectedVersion, type NewEvent, StoreClosedError } from '@pup/core';
import { describe, expect, it } from 'vitest';
import { admin, bothDrivers, sleep } from './support.js';

function event(aggregateId: string): NewEvent {
  return {
    boundedContext: 'listen',
    aggregateType: 'Thing',
    aggregateId,
    eventType: 'Happened',
    payload: {},
  };
}

async function timeWait(
  store: { waitForEvents(o: { signal: AbortSignal; timeoutMs: number }): Promise<void> },
  timeoutMs: number,
  trigger: () => Promise<unknown>,
): Promise<number> {
  const started = performance.now();
  const waiting = store.waitForEvents({ signal: new AbortController().signal, timeoutMs });
  await trigger();
  const triggered = performance.now();
  await waiting;
  return performance.now() - Math.max(started, triggered);
}

/** Backends listening on the store's channel, seen from the admin pool. */
async function listeners(channel: string): Promise<number[]> {
  const rows = await admin().query(
    `SELECT pid FROM pg_stat_activity WHERE lower(query) = lower($1) AND pid <> pg_backend_pid()`,
    [`LISTEN "${channel}"`],
  );
  return rows.rows.map((r) => Number(r.pid));
}

async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(20);
  }
}

/**
 * Waits until the store's commit listener is open: the listener wakes every waiter once when it
 * opens (commits made meanwhile notified nobody), so a wait that runs to its timeout was not
 * woken by that. Under load the first LISTEN can take longer than a short wait.
 */
async function untilListening(store: { waitForEvents(o: object): Promise<void> }): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const started = performance.now();
    await store.waitForEvents({ signal: new AbortController().signal, timeoutMs: 100 });
    if (performance.now() - started >= 95) return;
  }
  throw new Error('the store never settled into listening');
}

describe.each(bothDrivers())('LISTEN/NOTIFY wake-ups ($name)', (driver) => {
  it('wakes a waiter within milliseconds of a commit; without NOTIFY it waits for its timeout', async () => {
    const subject = await driver.createStore();
    const { store } = subject;
    // A second store on the same tables: another process, as far as notifications go.
    const writer = await driver.createStore({ tables: store.tables });
    const silentWriter = await driver.createStore({ tables: store.tables, notify: false });
    try {
      await store.waitForEvents({ signal: new AbortController().signal, timeoutMs: 50 });
      // Through store.transaction (notified after the commit).
      const latencies: number[] = [];
      for (let i = 0; i < 5; i++) {
        latencies.push(
          await timeWait(store, 5_000, () =>
            writer.store.transaction((tx) =>
              writer.store.append(tx, ExpectedVersion.any(), [event('a')]),
            ),
          ),
        );
      }
      // In a transaction the caller opened (notified by the append statement at commit).
      latencies.push(
        await timeWait(store, 5_000, () =>
          driver.ownTransaction((tx) =>
            writer.store.append(tx, ExpectedVersion.any(), [event('b')]),
          ),
        ),
      );
      latencies.sort((a, b) => a - b);
      expect(latencies[Math.floor(latencies.length / 2)]!).toBeLessThan(100);
      expect(latencies[latencies.length - 1]!).toBeLessThan(1_000);

      const polled = await timeWait(store, 300, () =>
        silentWriter.store.transaction((tx) =>
          silentWriter.store.append(tx, ExpectedVersion.any(), [event('c')]),
        ),
      );
      expect(polled).toBeGreaterThanOrEqual(250);
    } finally {
      await silentWriter.store.close();
      await writer.store.close();
      await subject.cleanup();
    }
  });

  it('a caller-opened transaction notifies at its commit, not before', async () => {
    const subject = await driver.createStore();
    const { store } = subject;
    const writer = await driver.createStore({ tables: store.tables });
    try {
      await untilListening(store);
      let woke = false;
      const waiting = store
        .waitForEvents({ signal: new AbortController().signal, timeoutMs: 5_000 })
        .then(() => {
          woke = true;
        });
      let committedAt = 0;
      await driver.ownTransaction(async (tx) => {
        await writer.store.append(tx, ExpectedVersion.any(), [event('x'), event('x')]);
        await writer.store.append(tx, ExpectedVersion.any(), [event('y')]);
        await sleep(150);
        expect(woke).toBe(false);
      });
      committedAt = performance.now();
      await waiting;
      expect(performance.now() - committedAt).toBeLessThan(1_000);
    } finally {
      await writer.store.close();
      await subject.cleanup();
    }
  });

  it('re-listens after the LISTEN connection is killed; waiters wake meanwhile', async () => {
    const subject = await driver.createStore();
    const { store } = subject;
    const channel = `pup_events:${store.tables.events}`;
    try {
      await store.waitForEvents({ signal: new AbortController().signal, timeoutMs: 50 });
      await until(async () => (await listeners(channel)).length === 1, 'the store listens');
      const [pid] = await listeners(channel);

      const waiting = store.waitForEvents({
        signal: new AbortController().signal,
        timeoutMs: 30_000,
      });
      const killedAt = performance.now();
      await admin().query('SELECT pg_terminate_backend($1)', [pid]);
      await waiting;
      expect(performance.now() - killedAt).toBeLessThan(10_000);

      // A later wait (polling meanwhile) brings the listener back.
      await until(async () => {
        await store.waitForEvents({ signal: new AbortController().signal, timeoutMs: 50 });
        const now = await listeners(channel);
        return now.length === 1 && now[0] !== pid;
      }, 'the store listens again');
      const latency = await timeWait(store, 5_000, () =>
        store.transaction((tx) => store.append(tx, ExpectedVersion.any(), [event('after')])),
      );
      expect(latency).toBeLessThan(1_000);
    } finally {
      await subject.cleanup();
    }
  });

  it('close() wakes waiters and releases the listener, not the pool', async () => {
    const subject = await driver.createStore();
    const { store } = subject;
    const channel = `pup_events:${store.tables.events}`;
    await store.waitForEvents({ signal: new AbortController().signal, timeoutMs: 50 });
    const waiting = store.waitForEvents({
      signal: new AbortController().signal,
      timeoutMs: 60_000,
    });
    const started = performance.now();
    await store.close();
    await waiting;
    expect(performance.now() - started).toBeLessThan(1_000);
    // Waiting on a closed store rejects at once, as every other method does.
    const closedWait = store
      .waitForEvents({ signal: new AbortController().signal, timeoutMs: 60_000 })
      .catch((error: unknown) => error);
    const rejected = await Promise.race([closedWait, sleep(1_000).then(() => 'still waiting')]);
    expect(rejected).toBeInstanceOf(StoreClosedError);
    await expect(
      store.transaction((tx) =>
        store.append(tx, ExpectedVersion.noStream(), [event('after-close')]),
      ),
    ).rejects.toBeInstanceOf(StoreClosedError);
    if (driver.name === 'pg') {
      await until(async () => (await listeners(channel)).length === 0, 'the LISTEN is released');
    }
    // The pool is still the caller's and still works, for a new store too.
    const again = await driver.createStore({ tables: store.tables });
    try {
      const result = await again.store.transaction((tx) =>
        again.store.append(tx, ExpectedVersion.noStream(), [event('after-close')]),
      );
      expect(result.toVersion).toBe(1);
    } finally {
      await again.cleanup();
      await subject.cleanup();
    }
  });
});
