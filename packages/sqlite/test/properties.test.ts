// Property-based tests: generated sequences of appends (every ExpectedVersion kind, hostile ids,
// metadata and payloads), reads and checkpoints on a SQLite file, compared with a model of the
// store contract (see core's test/support/store-properties.ts).
import { describe, it } from 'vitest';
import { checkStoreAgainstModel } from '../../core/test/support/store-properties.js';
import { createSqliteEventStore } from '../src/index.js';
import { openDatabase } from './harness.js';

describe('sqlite: the store agrees with the model', () => {
  it('on generated operations with hostile input', async () => {
    const { db, dispose } = openDatabase('file');
    const store = createSqliteEventStore(db);
    try {
      await store.migrate();
      await checkStoreAgainstModel(store, { numRuns: 300 });
    } finally {
      await store.close();
      dispose();
    }
  });
});
