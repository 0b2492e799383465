import { afterAll, afterEach, beforeAll, beforeEach, describe, it } from 'vitest';
import { describeProjectionConformance } from '../src/conformance/projections/index.js';
import { createInMemoryEventStore } from '../src/index.js';

describe('in-memory store', () => {
  describeProjectionConformance(
    { describe, it, beforeAll, afterAll, beforeEach, afterEach },
    {
      name: 'in-memory',
      async createStore(options) {
        return { store: createInMemoryEventStore(options) };
      },
      capabilities: { concurrentTransactions: false },
    },
  );
});
