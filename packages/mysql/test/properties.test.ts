// Property-based tests: generated sequences of appends (every ExpectedVersion kind, hostile ids,
// metadata and payloads), reads and checkpoints on MySQL / MariaDB, compared with a model of the
// store contract (see core's test/support/store-properties.ts).
import { describe, it } from 'vitest';
import { checkStoreAgainstModel } from '../../core/test/support/store-properties.js';
import { createTestStore } from './support.js';

describe('MySQL: the store agrees with the model', () => {
  it('on generated operations with hostile input', async () => {
    const subject = await createTestStore();
    try {
      await checkStoreAgainstModel(subject.store, { numRuns: 150 });
    } finally {
      await subject.cleanup();
    }
  });
});
