import { describe, expect, it } from 'vitest';
import {
  createInMemoryEventStore,
  type EventStore,
  ExpectedVersion,
  getProjectionStatus,
  InvalidArgumentError,
  InvalidConfigError,
} from '../src/index.js';

async function seed(store: EventStore<any>, count: number) {
  for (let i = 0; i < count; i++) {
    await store.transaction((tx) =>
      store.append(tx, ExpectedVersion.any(), [
        {
          boundedContext: 't',
          aggregateType: 'W',
          aggregateId: `w-${i}`,
          eventType: 'E',
          payload: {},
        },
      ]),
    );
  }
}

const save = (store: EventStore<any>, name: string, checkpoint: string) =>
  store.transaction((tx) => store.saveCheckpoint(tx, name, checkpoint));

describe('getProjectionStatus', () => {
  it('uses getLogStatus when the store has it', async () => {
    const store = createInMemoryEventStore();
    await seed(store, 10);
    await save(store, 'orders', '0000000000000004');
    expect(await getProjectionStatus(store, 'orders')).toEqual({
      projectionName: 'orders',
      checkpoint: '0000000000000004',
      headCheckpoint: '0000000000000010',
      headPosition: 10,
      eventsBehind: 6,
      caughtUp: false,
      partitions: [
        {
          partitionKey: 0,
          checkpointName: 'orders',
          checkpoint: '0000000000000004',
          eventsBehind: 6,
        },
      ],
      source: 'logStatus',
    });
  });

  it('counts the log in pages without getLogStatus', async () => {
    const base = createInMemoryEventStore();
    await seed(base, 10);
    await save(base, 'orders', '0000000000000003');
    const store = { ...base, getLogStatus: undefined };
    const status = await getProjectionStatus(store, 'orders', { scanBatchSize: 3 });
    expect(status).toMatchObject({
      checkpoint: '0000000000000003',
      headCheckpoint: '0000000000000010',
      headPosition: 10,
      eventsBehind: 7,
      source: 'scan',
    });
    await save(base, 'orders', '0000000000000010');
    expect(await getProjectionStatus(store, 'orders')).toMatchObject({
      eventsBehind: 0,
      caughtUp: true,
      headCheckpoint: '0000000000000010',
      headPosition: null,
    });
  });

  it('reports each partition and the one furthest behind', async () => {
    const store = createInMemoryEventStore();
    await seed(store, 8);
    await save(store, 'orders_p0', '0000000000000008');
    await save(store, 'orders_p2', '0000000000000005');
    const status = await getProjectionStatus(
      store,
      { name: 'orders', handle() {} },
      {
        totalPartitions: 3,
      },
    );
    expect(status.partitions).toEqual([
      {
        partitionKey: 0,
        checkpointName: 'orders_p0',
        checkpoint: '0000000000000008',
        eventsBehind: 0,
      },
      { partitionKey: 1, checkpointName: 'orders_p1', checkpoint: null, eventsBehind: 8 },
      {
        partitionKey: 2,
        checkpointName: 'orders_p2',
        checkpoint: '0000000000000005',
        eventsBehind: 3,
      },
    ]);
    expect(status.checkpoint).toBeNull();
    expect(status.eventsBehind).toBe(8);
    const scanned = await getProjectionStatus({ ...store, getLogStatus: undefined }, 'orders', {
      totalPartitions: 3,
    });
    expect(scanned.partitions).toEqual(status.partitions);
    const one = await getProjectionStatus(store, 'orders', { totalPartitions: 3, partitionKey: 2 });
    expect(one).toMatchObject({ checkpoint: '0000000000000005', eventsBehind: 3 });
  });

  it('rejects invalid names and options', async () => {
    const store = createInMemoryEventStore();
    await expect(getProjectionStatus(store, '')).rejects.toBeInstanceOf(InvalidConfigError);
    await expect(
      getProjectionStatus(store, 'x', { totalPartitions: 2, partitionKey: 2 }),
    ).rejects.toBeInstanceOf(InvalidConfigError);
    await expect(getProjectionStatus(store, 'x', { scanBatchSize: 0 })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
  });
});
