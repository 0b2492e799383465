import { ExpectedVersion, InvalidConfigError } from '@pup/core';
import { describe, expect, it } from 'vitest';
import { bothDrivers } from './support.js';

const event = (aggregateId: string) => ({
  boundedContext: 'async-commit',
  aggregateType: 'Thing',
  aggregateId,
  eventType: 'Happened',
  payload: {},
});

type LockPath = 'getCheckpoint' | 'readProjectionBatch';

describe.each(bothDrivers())('asyncProjectionCommit ($name)', (driver) => {
  /**
   * `synchronous_commit` in one transaction before and after a plain checkpoint read, an append
   * and a projection batch's lock (through `lockPath`, on a projection with or without a saved
   * checkpoint row).
   */
  async function synchronousCommitIn(
    asyncProjectionCommit: boolean | undefined,
    lockPath: LockPath = 'getCheckpoint',
    savedBefore = false,
  ) {
    const subject = await driver.createStore(
      asyncProjectionCommit === undefined ? {} : { asyncProjectionCommit },
    );
    const { store } = subject;
    try {
      let checkpoint = '';
      if (savedBefore) {
        const appended = await store.transaction((tx) =>
          store.append(tx, ExpectedVersion.noStream(), [event('saved')]),
        );
        checkpoint = appended.events[0]!.checkpoint;
        await store.transaction((tx) => store.saveCheckpoint(tx, 'projection', checkpoint));
      }
      return await store.transaction(async (tx) => {
        const show = async () =>
          String((await subject.run(tx, 'SHOW synchronous_commit'))[0].synchronous_commit);
        const before = await show();
        await store.getCheckpoint(tx, 'plain-read');
        const afterPlainRead = await show();
        await store.append(tx, ExpectedVersion.noStream(), [event('a')]);
        const afterAppend = await show();
        const seen =
          lockPath === 'getCheckpoint'
            ? await store.getCheckpoint(tx, 'projection', { lock: true })
            : (await store.readProjectionBatch!(tx, 'projection', { limit: 10 })).checkpoint;
        expect(seen).toBe(savedBefore ? checkpoint : null);
        const inBatch = await show();
        return { before, afterPlainRead, afterAppend, inBatch };
      });
    } finally {
      await subject.cleanup();
    }
  }

  it('is off by default: projection batches commit synchronously', async () => {
    expect(await synchronousCommitIn(undefined)).toEqual({
      before: 'on',
      afterPlainRead: 'on',
      afterAppend: 'on',
      inBatch: 'on',
    });
  });

  it.each([
    ['getCheckpoint', false],
    ['getCheckpoint', true],
    ['readProjectionBatch', false],
    ['readProjectionBatch', true],
  ] as const)(
    'when on, only the transaction of a locked checkpoint read skips the flush wait (%s, checkpoint saved: %s)',
    async (lockPath, savedBefore) => {
      expect(await synchronousCommitIn(true, lockPath, savedBefore)).toEqual({
        before: 'on',
        afterPlainRead: 'on',
        afterAppend: 'on',
        inBatch: 'off',
      });
      // SET LOCAL ends with the transaction: the next transaction is synchronous again.
      const subject = await driver.createStore({ asyncProjectionCommit: true });
      try {
        const next = await subject.store.transaction(
          async (tx) => (await subject.run(tx, 'SHOW synchronous_commit'))[0].synchronous_commit,
        );
        expect(next).toBe('on');
      } finally {
        await subject.cleanup();
      }
    },
  );

  it('rejects a non-boolean value with InvalidConfigError', async () => {
    await expect(
      driver.createStore({ asyncProjectionCommit: 'yes' as never }),
    ).rejects.toBeInstanceOf(InvalidConfigError);
  });
});
