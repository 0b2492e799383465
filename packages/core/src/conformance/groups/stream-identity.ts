import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { ExpectedVersion } from '../../expected-version.js';
import type { StreamRef } from '../../types.js';
import {
  appendInTransaction,
  makeEvent,
  makeEvents,
  readStream,
  uniqueId,
  useGroupStore,
} from '../helpers.js';
import { limitTime } from '../time-limits.js';
import type { ConformanceHarness, ConformanceTestApi } from '../types.js';

/**
 * Registers the stream identity group: a stream is the triple (boundedContext, aggregateType,
 * aggregateId), compared exactly (case, accents and trailing spaces matter), and any string is a
 * valid aggregate id.
 */
export function describeStreamIdentityConformance(
  testApi: ConformanceTestApi,
  harness: ConformanceHarness,
): void {
  const api = limitTime(testApi, harness);
  api.describe('stream identity', () => {
    const subject = useGroupStore(api, harness);

    /** Appends 1, 2, 3… events to each stream under noStream() and checks each reads back alone. */
    async function assertDistinct(streams: StreamRef[]): Promise<void> {
      const { store } = subject();
      for (const [i, stream] of streams.entries()) {
        const result = await appendInTransaction(
          store,
          ExpectedVersion.noStream(),
          makeEvents(stream, i + 1),
        );
        assert.equal(result.fromVersion, 0, `${JSON.stringify(stream)} is a new stream`);
      }
      for (const [i, stream] of streams.entries()) {
        const read = await readStream(store, stream);
        assert.equal(read.version, i + 1, `${JSON.stringify(stream)} holds only its own events`);
        assert.equal(read.boundedContext, stream.boundedContext);
        assert.equal(read.aggregateType, stream.aggregateType);
        assert.equal(read.aggregateId, stream.aggregateId);
        for (const event of read.events) {
          assert.equal(event.boundedContext, stream.boundedContext);
          assert.equal(event.aggregateType, stream.aggregateType);
          assert.equal(event.aggregateId, stream.aggregateId);
        }
      }
    }

    api.it('the same aggregateId under another aggregateType is another stream', async () => {
      const aggregateId = uniqueId('identity-type');
      await assertDistinct([
        { boundedContext: 'sales', aggregateType: 'Order', aggregateId },
        { boundedContext: 'sales', aggregateType: 'Invoice', aggregateId },
      ]);
    });

    api.it('the same aggregateId under another boundedContext is another stream', async () => {
      const aggregateId = uniqueId('identity-context');
      await assertDistinct([
        { boundedContext: 'sales', aggregateType: 'Order', aggregateId },
        { boundedContext: 'shipping', aggregateType: 'Order', aggregateId },
      ]);
    });

    api.it('a version conflict on one stream does not involve its namesakes', async () => {
      const { store } = subject();
      const aggregateId = uniqueId('identity-conflict');
      const a = { boundedContext: 'sales', aggregateType: 'Order', aggregateId };
      const b = { boundedContext: 'sales', aggregateType: 'Refund', aggregateId };
      await appendInTransaction(store, ExpectedVersion.noStream(), makeEvents(a, 3));
      const result = await appendInTransaction(store, ExpectedVersion.exact(0), [makeEvent(b)]);
      assert.equal(result.toVersion, 1);
      await appendInTransaction(store, ExpectedVersion.exact(3), [makeEvent(a)]);
      assert.equal((await readStream(store, a)).version, 4);
      assert.equal((await readStream(store, b)).version, 1);
    });

    api.it(
      'ids differing only in letter case, accents or trailing spaces are distinct',
      async () => {
        const base = `identity-${randomUUID()}-resume`;
        const accented = `identity-${randomUUID()}-résumé`;
        await assertDistinct([
          { boundedContext: 'sales', aggregateType: 'Order', aggregateId: base },
          { boundedContext: 'sales', aggregateType: 'Order', aggregateId: base.toUpperCase() },
          { boundedContext: 'sales', aggregateType: 'Order', aggregateId: `${base} ` },
          {
            boundedContext: 'sales',
            aggregateType: 'Order',
            aggregateId: accented.replace('résumé', 'resume'),
          },
          { boundedContext: 'sales', aggregateType: 'Order', aggregateId: accented },
        ]);
      },
    );

    api.it('aggregate types and contexts differing only in letter case are distinct', async () => {
      const aggregateId = uniqueId('identity-type-case');
      await assertDistinct([
        { boundedContext: 'sales', aggregateType: 'Order', aggregateId },
        { boundedContext: 'sales', aggregateType: 'order', aggregateId },
        { boundedContext: 'Sales', aggregateType: 'Order', aggregateId },
      ]);
    });

    api.it(
      'accepts any string as aggregateId: UUID, email, unicode, quotes, wildcards',
      async () => {
        const suffix = randomUUID().slice(0, 8);
        const ids = [
          randomUUID(),
          `alice+${suffix}@example.com`,
          `ユーザー-${suffix}-🐶`,
          `quote'"\`-${suffix}`,
          `back\\slash-${suffix}`,
          `wild%_card-${suffix}`,
          // Matches the id above as a LIKE pattern: a store must compare ids exactly.
          `wildabcard-${suffix}`,
          `path/with spaces/${suffix}`,
          `${suffix}-${'x'.repeat(90)}`,
        ];
        await assertDistinct(
          ids.map((aggregateId) => ({
            boundedContext: 'sales',
            aggregateType: 'Order',
            aggregateId,
          })),
        );
      },
    );
  });
}
