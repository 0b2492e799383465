import assert from 'node:assert/strict';
import { InvalidConfigError } from '../../errors.js';
import { ExpectedVersion } from '../../expected-version.js';
import type { EventStoreOptions } from '../../options.js';
import type { TableNames } from '../../types.js';
import {
  appendInTransaction,
  assertRejectsWith,
  assertRowsAdded,
  createTestStore,
  makeEvents,
  readStream,
  releaseStore,
  snapshotStore,
  uniqueId,
  uniqueStream,
  waitForLog,
  withFreshStore,
} from '../helpers.js';
import { limitTime } from '../time-limits.js';
import type { ConformanceHarness, ConformanceTestApi } from '../types.js';

/** Custom table names of the end-to-end test. */
export const CUSTOM_TABLE_NAMES: Readonly<TableNames> = Object.freeze({
  events: 'custom_events',
  aggregateHeads: 'custom_heads',
  checkpoints: 'custom_checkpoints',
});

/** Names that are not SQL identifiers; each must be refused with `InvalidConfigError`. */
const INVALID_TABLE_NAMES: readonly unknown[] = [
  'events; drop table x',
  'a.b.c',
  '',
  ' events',
  'events ',
  'my-events',
  '1events',
  '"events"',
  '`events`',
  'events\u0000',
  'évents',
  '.events',
  'events.',
  'e'.repeat(64),
  42,
  null,
];

/** Creates a store that must fail, releasing it if the harness wrongly created one. */
async function expectConfigRejected(
  harness: ConformanceHarness,
  options: EventStoreOptions,
  option?: string,
): Promise<void> {
  let created: Awaited<ReturnType<ConformanceHarness['createStore']>> | undefined;
  const attempt = createTestStore(harness, options).then((subject) => {
    created = subject;
    return subject;
  });
  try {
    await assertRejectsWith(
      attempt,
      InvalidConfigError,
      'INVALID_CONFIG',
      option === undefined ? undefined : { option },
    );
  } finally {
    await releaseStore(created, harness);
  }
}

/**
 * Registers the configuration group: invalid table names, serializers and loggers are refused
 * with {@link InvalidConfigError} when the store is created; custom table names work end to end;
 * `migrate()` is idempotent. The harness must hand `options.tables` to the adapter's factory
 * unchanged (or only schema-qualified), and its `inspect` must count the tables the store was
 * created with.
 */
export function describeConfigConformance(
  testApi: ConformanceTestApi,
  harness: ConformanceHarness,
): void {
  const api = limitTime(testApi, harness);
  api.describe('configuration', () => {
    for (const key of ['events', 'aggregateHeads', 'checkpoints'] as const) {
      api.it(`invalid tables.${key} names → InvalidConfigError`, async () => {
        for (const name of INVALID_TABLE_NAMES) {
          await expectConfigRejected(harness, { tables: { [key]: name as string } });
        }
      });
    }

    api.it('the same name for two tables → InvalidConfigError', async () => {
      await expectConfigRejected(harness, {
        tables: { events: 'pup_same', aggregateHeads: 'pup_same' },
      });
      await expectConfigRejected(harness, { tables: { checkpoints: 'events' } });
    });

    api.it('an unknown table key → InvalidConfigError', async () => {
      await expectConfigRejected(harness, { tables: { snapshots: 'snapshots' } as never });
    });

    api.it('a serializer or logger of the wrong shape → InvalidConfigError', async () => {
      await expectConfigRejected(harness, { serializer: {} as never }, 'serializer');
      await expectConfigRejected(
        harness,
        { serializer: { serialize: () => new Uint8Array() } as never },
        'serializer',
      );
      await expectConfigRejected(harness, { logger: { info: () => {} } as never }, 'logger');
    });

    for (const [label, tables] of [
      ['custom_events, custom_heads, custom_checkpoints', CUSTOM_TABLE_NAMES],
      [
        'mixed-case names',
        { events: 'PupEvents', aggregateHeads: 'PupHeads', checkpoints: 'PupCheckpoints' },
      ],
    ] as const) {
      api.it(`custom table names work end to end (${label})`, async () => {
        await withFreshStore(
          harness,
          async (subject) => {
            const { store } = subject;
            const before = await snapshotStore(subject);
            assert.ok(before.events === null || before.events === 0, 'a fresh store is empty');
            const stream = uniqueStream('custom-tables');
            const result = await appendInTransaction(
              store,
              ExpectedVersion.noStream(),
              makeEvents(stream, 3),
            );
            const again = await appendInTransaction(
              store,
              ExpectedVersion.exact(3),
              makeEvents(stream, 1),
            );
            assert.equal(again.toVersion, 4);
            assert.equal((await readStream(store, stream)).version, 4);
            const log = await waitForLog(store, [
              ...result.events.map((e) => e.eventId),
              ...again.events.map((e) => e.eventId),
            ]);
            assert.deepEqual(
              log.slice(0, 3).map((e) => e.eventId),
              result.events.map((e) => e.eventId),
            );
            const name = uniqueId('custom-projection');
            await store.transaction((tx) => store.saveCheckpoint(tx, name, log[3]!.checkpoint));
            assert.equal(
              await store.transaction((tx) => store.getCheckpoint(tx, name)),
              log[3]!.checkpoint,
            );
            const after = await snapshotStore(subject);
            // The inspector counts the custom tables: the rows must be there.
            assertRowsAdded(before, after, { events: 4, aggregateHeads: 1, checkpoints: 1 });
          },
          { tables: { ...tables } },
        );
      });
    }

    api.it('migrate() is idempotent and keeps the data', async () => {
      await withFreshStore(harness, async ({ store }) => {
        await store.migrate();
        const stream = uniqueStream('migrate');
        await appendInTransaction(store, ExpectedVersion.noStream(), makeEvents(stream, 2));
        await store.migrate();
        await store.migrate();
        assert.equal((await readStream(store, stream)).version, 2);
        const next = await appendInTransaction(
          store,
          ExpectedVersion.exact(2),
          makeEvents(stream, 1),
        );
        assert.equal(next.toVersion, 3);
      });
    });
  });
}
