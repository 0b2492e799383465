// Property-based tests: generated sequences of appends (every ExpectedVersion kind, hostile ids,
// metadata and payloads), reads and checkpoints on PostgreSQL through both drivers, compared
// with a model of the store contract (see core's test/support/store-properties.ts).
import { describe, it } from 'vitest';
import { checkStoreAgainstModel } from '../../core/test/support/store-properties.js';
import { bothDrivers } from './support.js';

describe.each(bothDrivers())('PostgreSQL ($name): the store agrees with the model', (driver) => {
  it('on generated operations with hostile input', async () => {
    const subject = await driver.createStore();
    try {
      await checkStoreAgainstModel(subject.store, {
        numRuns: 150,
        // Readers see only transactions older than the oldest running one in the cluster.
        readsMayLag: true,
        // A caught DuplicateEventIdError leaves the transaction aborted (see the README).
        failedStatementAbortsTransaction: true,
      });
    } finally {
      await subject.cleanup();
    }
  });
});
