import { afterAll, afterEach, beforeAll, beforeEach, describe, it } from 'vitest';
import { describeEventStoreConformance } from '../src/conformance/index.js';
import { createInMemoryEventStore } from '../src/index.js';

describeEventStoreConformance(
  { describe, it, beforeAll, afterAll, beforeEach, afterEach },
  {
    name: 'in-memory',
    async createStore(options) {
      const store = createInMemoryEventStore(options);
      await store.migrate();
      return {
        store,
        inspect: {
          countEvents: async () => store.countRows().events,
          countAggregateHeads: async () => store.countRows().aggregateHeads,
          countCheckpoints: async () => store.countRows().checkpoints,
        },
        cleanup: () => store.close(),
      };
    },
    capabilities: { concurrentTransactions: false },
  },
);
