// The whole conformance suite against a store with truly concurrent transactions, built on the
// adapter kit the way a third party would (test/support/concurrent-dialect.ts): the tests that
// need two open transactions run here, and the kit is shown to be enough to write an adapter.
import { afterAll, afterEach, beforeAll, beforeEach, describe, it } from 'vitest';
import { describeEventStoreConformance } from '../src/conformance/index.js';
import { createConcurrentEventStore } from './support/concurrent-dialect.js';

describeEventStoreConformance(
  { describe, it, beforeAll, afterAll, beforeEach, afterEach },
  {
    name: 'concurrent test store (adapter kit)',
    async createStore(options) {
      const store = createConcurrentEventStore(options);
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
    capabilities: {
      concurrentTransactions: true,
      waitForEvents: true,
      leases: false,
      deadLetters: false,
    },
  },
);
