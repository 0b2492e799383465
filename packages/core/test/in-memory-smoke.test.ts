import { describe, expect, it } from 'vitest';
import {
  createInMemoryEventStore,
  ExpectedVersion,
  OptimisticConcurrencyError,
} from '../src/index.js';

const stream = { boundedContext: 'shop', aggregateType: 'Cart', aggregateId: 'c-1' };

describe('in-memory store', () => {
  it('appends, reads and rolls back', async () => {
    const store = createInMemoryEventStore();
    const r = await store.transaction((tx) =>
      store.append(tx, ExpectedVersion.noStream(), [
        { ...stream, eventType: 'Created', payload: { a: 1 } },
        { ...stream, eventType: 'Added', payload: { b: 2 } },
      ]),
    );
    expect(r.fromVersion).toBe(0);
    expect(r.toVersion).toBe(2);
    await expect(
      store.transaction(async (tx) => {
        await store.append(tx, ExpectedVersion.exact(2), [
          { ...stream, eventType: 'X', payload: 1 },
        ]);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(store.countRows()).toEqual({ events: 2, aggregateHeads: 1, checkpoints: 0 });
    await expect(
      store.transaction((tx) =>
        store.append(tx, ExpectedVersion.exact(1), [{ ...stream, eventType: 'X', payload: 1 }]),
      ),
    ).rejects.toBeInstanceOf(OptimisticConcurrencyError);
    const events = await store.transaction((tx) => store.readEvents(tx, { limit: 10 }));
    expect(events.map((e) => e.globalPosition)).toEqual([1, 2]);
    const next = await store.transaction(async (tx) => {
      await store.append(tx, ExpectedVersion.any(), [{ ...stream, eventType: 'Y', payload: null }]);
      return store.readEvents(tx, { after: events[1]!.checkpoint, limit: 10 });
    });
    expect(next.map((e) => [e.globalPosition, e.aggregateVersion])).toEqual([[3, 3]]);
  });
});
