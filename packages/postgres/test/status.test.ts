import { ExpectedVersion, type Logger, type NewEvent } from '@pup/core';
import { describe, expect, it } from 'vitest';
import { bothDrivers, deferred, sleep } from './support.js';

function events(aggregateId: string, count: number): NewEvent[] {
  return Array.from({ length: count }, (_, n) => ({
    boundedContext: 'status',
    aggregateType: 'Thing',
    aggregateId,
    eventType: 'Happened',
    payload: { n },
  }));
}

function recordingLogger() {
  const lines: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
  const log =
    (level: string) =>
    (message: string, fields?: Record<string, unknown>): void => {
      lines.push({ level, message, fields });
    };
  const logger: Logger = {
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
  };
  return { logger, lines };
}

describe.each(bothDrivers())('log status and long transactions ($name)', (driver) => {
  it('reports the head of the readable log and the events after a checkpoint', async () => {
    const subject = await driver.createStore();
    const { store } = subject;
    try {
      const empty = await store.transaction((tx) => store.getLogStatus(tx));
      expect(empty).toMatchObject({ headCheckpoint: null, headPosition: null, eventsAfter: 0 });
      const result = await store.transaction((tx) =>
        store.append(tx, ExpectedVersion.noStream(), events('s', 5)),
      );
      const last = result.events[4]!;
      const status = await store.transaction((tx) => store.getLogStatus(tx));
      expect(status).toMatchObject({
        headCheckpoint: last.checkpoint,
        headPosition: last.globalPosition,
        eventsAfter: 5,
      });
      const after = await store.transaction((tx) =>
        store.getLogStatus(tx, { after: result.events[1]!.checkpoint }),
      );
      expect(after.eventsAfter).toBe(3);
    } finally {
      await subject.cleanup();
    }
  });

  it('exposes the oldest running transaction that holds readers back, and warns about it', async () => {
    const { logger, lines } = recordingLogger();
    const subject = await driver.createStore({ logger, holdBackWarningMs: 200 });
    const { store } = subject;
    try {
      const appended = deferred();
      const release = deferred();
      let holderPid = 0;
      const holder = store.transaction(async (tx) => {
        holderPid = Number((await driver.run(tx, 'SELECT pg_backend_pid() AS pid'))[0].pid);
        await store.append(tx, ExpectedVersion.noStream(), events('held', 1));
        appended.resolve();
        await release.promise;
      });
      await appended.promise;
      const committed = await store.transaction((tx) =>
        store.append(tx, ExpectedVersion.noStream(), events('waiting', 2)),
      );
      await sleep(300);

      // The two committed events count (a projection is behind by them) but are not readable.
      const status = await store.transaction((tx) => store.getLogStatus(tx));
      expect(status.eventsAfter).toBe(2);
      expect(status.headCheckpoint).toBe(committed.events[1]!.checkpoint);
      const running = status.oldestRunningTransaction!;
      expect(running.pid).toBe(holderPid);
      expect(running.state).toBe('idle in transaction');
      expect(running.ageMs).toBeGreaterThanOrEqual(250);
      expect(running.startedAt).toBeInstanceOf(Date);
      expect(committed.events[0]!.checkpoint > `${running.transactionId.padStart(20, '0')}`).toBe(
        true,
      );
      expect((await store.getOldestRunningTransaction())?.pid).toBe(holderPid);

      // A reader at the end of the readable log triggers the (background) check.
      expect(await store.transaction((tx) => store.readEvents(tx, { limit: 10 }))).toEqual([]);
      for (let i = 0; i < 100 && !lines.some((l) => l.level === 'warn'); i++) await sleep(20);
      const warning = lines.find((l) => l.level === 'warn');
      expect(warning?.message).toMatch(/held back/);
      expect(warning?.fields).toMatchObject({ pid: holderPid, thresholdMs: 200 });
      expect(warning?.fields?.ageMs).toBeGreaterThan(200);

      release.resolve();
      await holder;
      const after = await store.transaction((tx) => store.getLogStatus(tx));
      expect(after.eventsAfter).toBe(3);
      expect(after.headCheckpoint).toBe(committed.events[1]!.checkpoint);
    } finally {
      await subject.cleanup();
    }
  });

  it('a transaction younger than the threshold logs nothing', async () => {
    const { logger, lines } = recordingLogger();
    const subject = await driver.createStore({ logger, holdBackWarningMs: 60_000 });
    const { store } = subject;
    try {
      const appended = deferred();
      const release = deferred();
      const holder = store.transaction(async (tx) => {
        await store.append(tx, ExpectedVersion.noStream(), events('young', 1));
        appended.resolve();
        await release.promise;
      });
      await appended.promise;
      await store.transaction((tx) => store.readEvents(tx, { limit: 10 }));
      await sleep(200);
      release.resolve();
      await holder;
      expect(lines.filter((l) => l.level === 'warn')).toEqual([]);
    } finally {
      await subject.cleanup();
    }
  });
});
