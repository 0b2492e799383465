// docs/troubleshooting.md, "DatabaseError with transient": retry a whole transaction. Runs on
// SQLite in memory; the transient failure is simulated.
// #region retry-transient
import { isTransientError } from '@pup/core';

/**
 * Runs `work` (one whole transaction) again after a transient failure: a deadlock, a
 * serialization failure, a lock timeout, SQLITE_BUSY past the busy timeout, or a connection lost
 * before COMMIT was sent. Up to `attempts` tries, waiting a little longer each time.
 */
export async function withRetries<T>(work: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      const commitUnknown = (error as { commitUnknown?: unknown }).commitUnknown === true;
      if (!isTransientError(error) || commitUnknown || attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt * Math.random()));
    }
  }
}

// #endregion retry-transient

import { DatabaseError, ExpectedVersion } from '@pup/core';
import { account, type BankEvent, expectEqual } from '../getting-started/events.js';
import { openStore } from '../support/open-store.js';

const { store, close } = await openStore<BankEvent>();
let failures = 2;
const result = await withRetries(() =>
  store.transaction(async (tx) => {
    const appended = await store.append(tx, ExpectedVersion.any(), [
      { ...account('lee'), eventType: 'MoneyDeposited', payload: { amount: 1 } },
    ]);
    if (failures-- > 0)
      throw new DatabaseError('SQLite', 'database is locked', { transient: true });
    return appended;
  }),
);
expectEqual(result.toVersion, 1, 'the append committed once, on the third try');
await close();
