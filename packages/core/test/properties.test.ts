// The property-based model check of the adapters (test/support/store-properties.ts), on the
// in-memory store.
import { describe, it } from 'vitest';
import { createInMemoryEventStore } from '../src/index.js';
import { checkStoreAgainstModel } from './support/store-properties.js';

describe('in-memory store: agrees with the model', () => {
  it('on generated operations with hostile input', async () => {
    await checkStoreAgainstModel(createInMemoryEventStore(), { numRuns: 300 });
  });
});
