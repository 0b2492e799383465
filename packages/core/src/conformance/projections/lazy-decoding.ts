import assert from 'node:assert/strict';
import { ProjectionProcessor } from '../../projection/processor.js';
import { jsonSerializer, type Serializer } from '../../serializer.js';
import type { PersistedEvent } from '../../types.js';
import { appendEvents, readWholeLog, withFreshStore } from '../helpers.js';
import { limitTime } from '../time-limits.js';
import type { ConformanceHarness, ConformanceTestApi } from '../types.js';
import { TEST_POLL_INTERVAL_MS } from './processing.js';
import { runUntilCheckpoints } from './support.js';

/** The JSON serializer, counting the payloads it decodes. */
function countingSerializer(): { serializer: Serializer; decoded: () => number } {
  let decoded = 0;
  return {
    serializer: {
      serialize: (payload, event) => jsonSerializer.serialize(payload, event),
      deserialize(bytes, event) {
        decoded += 1;
        return jsonSerializer.deserialize(bytes, event);
      },
    },
    decoded: () => decoded,
  };
}

/**
 * Registers the lazy decoding group: a projection's processor decodes only the payloads of events
 * it hands to `handle`, so events outside its scope or partition cost no decoding, on every
 * store. The store is created with a counting serializer (through the harness's options).
 */
export function describeProjectionLazyDecodingConformance(
  testApi: ConformanceTestApi,
  harness: ConformanceHarness,
): void {
  const api = limitTime(testApi, harness);
  api.describe('projections: lazy decoding', () => {
    api.it('a scoped projection decodes only the payloads it handles', () => {
      const counting = countingSerializer();
      return withFreshStore(
        harness,
        async ({ store }) => {
          await appendEvents(store, [
            { boundedContext: 'sales', aggregateType: 'Order', count: 6 },
            { boundedContext: 'sales', aggregateType: 'Invoice', count: 9 },
          ]);
          const log = await readWholeLog(store);
          const before = counting.decoded();
          const handled: PersistedEvent[] = [];
          const projection = {
            name: `lazy-${Math.random().toString(36).slice(2)}`,
            aggregateTypes: ['Order'],
            handle(event: PersistedEvent) {
              handled.push(event);
            },
          };
          await runUntilCheckpoints(
            (signal) =>
              new ProjectionProcessor(store, {
                batchSize: 4,
                pollIntervalMs: TEST_POLL_INTERVAL_MS,
              }).run(projection, { signal }),
            store,
            [projection.name],
            log.at(-1)!.checkpoint,
          );
          assert.equal(handled.length, 6, 'every Order event was handled');
          assert.deepEqual(
            handled.map((e) => e.payload),
            log.filter((e) => e.aggregateType === 'Order').map((e) => e.payload),
            'handled events carry their decoded payloads',
          );
          // Reading the checkpoint back decodes nothing; only the handled payloads were decoded.
          assert.equal(
            counting.decoded() - before,
            6,
            'the processor decoded the payloads of the 9 skipped Invoice events',
          );
        },
        { serializer: counting.serializer },
      );
    });
  });
}
