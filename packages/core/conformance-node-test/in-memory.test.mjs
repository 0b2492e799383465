// The conformance suite under node:test, as a third party runs it: plain JavaScript importing the
// published entry points (`@pup/core`, `@pup/core/conformance`), no build step, no vitest.
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { createInMemoryEventStore } from '@pup/core';
import { describeEventStoreConformance } from '@pup/core/conformance';

describeEventStoreConformance(
  // node:test names its once-per-block hooks `before` and `after`.
  { describe, it, beforeAll: before, afterAll: after, beforeEach, afterEach },
  {
    name: 'in-memory (node:test)',
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
    // The in-memory store runs one transaction at a time.
    capabilities: { concurrentTransactions: false, waitForEvents: true },
  },
);
