import assert from 'node:assert/strict';
import { OptimisticConcurrencyError } from '../../errors.js';
import { ExpectedVersion } from '../../expected-version.js';
import type { StreamRef } from '../../types.js';
import {
  appendInTransaction,
  assertNothingWritten,
  assertRejectsWith,
  makeEvent,
  makeEvents,
  readStream,
  uniqueStream,
  useGroupStore,
} from '../helpers.js';
import { limitTime } from '../time-limits.js';
import type { ConformanceHarness, ConformanceStore, ConformanceTestApi } from '../types.js';

/** Version an existing stream is brought to before each "existing stream" case. */
const EXISTING_VERSION = 2;

interface MatrixCase {
  expected: () => ExpectedVersion;
  label: string;
  /** Whether the append succeeds against a missing stream. */
  missing: boolean;
  /** Whether the append succeeds against a stream at {@link EXISTING_VERSION}. */
  existing: boolean;
}

const MATRIX: MatrixCase[] = [
  { label: 'any()', expected: () => ExpectedVersion.any(), missing: true, existing: true },
  {
    label: 'noStream()',
    expected: () => ExpectedVersion.noStream(),
    missing: true,
    existing: false,
  },
  {
    label: 'streamExists()',
    expected: () => ExpectedVersion.streamExists(),
    missing: false,
    existing: true,
  },
  { label: 'exact(0)', expected: () => ExpectedVersion.exact(0), missing: true, existing: false },
  { label: 'exact(1)', expected: () => ExpectedVersion.exact(1), missing: false, existing: false },
  {
    label: `exact(${EXISTING_VERSION})`,
    expected: () => ExpectedVersion.exact(EXISTING_VERSION),
    missing: false,
    existing: true,
  },
  {
    label: `exact(${EXISTING_VERSION + 1})`,
    expected: () => ExpectedVersion.exact(EXISTING_VERSION + 1),
    missing: false,
    existing: false,
  },
];

async function checkCase(
  subject: ConformanceStore,
  stream: StreamRef,
  expected: ExpectedVersion,
  succeeds: boolean,
  currentVersion: number,
): Promise<void> {
  const { store } = subject;
  if (succeeds) {
    const result = await appendInTransaction(store, expected, makeEvents(stream, 2));
    assert.equal(result.fromVersion, currentVersion);
    assert.equal(result.toVersion, currentVersion + 2);
    assert.equal((await readStream(store, stream)).version, currentVersion + 2);
    return;
  }
  await assertNothingWritten(subject, async () => {
    const error = await assertRejectsWith(
      appendInTransaction(store, expected, [makeEvent(stream)]),
      OptimisticConcurrencyError,
      'OPTIMISTIC_CONCURRENCY',
      { actualVersion: currentVersion },
    );
    assert.deepEqual(error.stream, {
      boundedContext: stream.boundedContext,
      aggregateType: stream.aggregateType,
      aggregateId: stream.aggregateId,
    });
    assert.equal(error.expectedVersion.kind, expected.kind);
    assert.equal(error.expectedVersion.version, expected.version);
  }, [stream]);
}

/**
 * Registers the expected-version group: every mode against a missing and an existing stream,
 * `exact(0)`, and the fields of {@link OptimisticConcurrencyError}.
 */
export function describeExpectedVersionConformance(
  testApi: ConformanceTestApi,
  harness: ConformanceHarness,
): void {
  const api = limitTime(testApi, harness);
  api.describe('expected version', () => {
    const subject = useGroupStore(api, harness);

    for (const c of MATRIX) {
      api.it(
        `${c.label} against a missing stream ${c.missing ? 'appends' : 'is rejected'}`,
        async () => {
          await checkCase(subject(), uniqueStream('ev-missing'), c.expected(), c.missing, 0);
        },
      );
      api.it(
        `${c.label} against a stream at version ${EXISTING_VERSION} ${c.existing ? 'appends' : 'is rejected'}`,
        async () => {
          const stream = uniqueStream('ev-existing');
          await appendInTransaction(
            subject().store,
            ExpectedVersion.noStream(),
            makeEvents(stream, EXISTING_VERSION),
          );
          await checkCase(subject(), stream, c.expected(), c.existing, EXISTING_VERSION);
        },
      );
    }

    api.it('the error names the stream, the expected version and the actual version', async () => {
      const { store } = subject();
      const stream = uniqueStream('ev-error-fields');
      await appendInTransaction(store, ExpectedVersion.noStream(), makeEvents(stream, 4));
      const stale = ExpectedVersion.exact(3);
      const error = await assertRejectsWith(
        appendInTransaction(store, stale, [makeEvent(stream)]),
        OptimisticConcurrencyError,
        'OPTIMISTIC_CONCURRENCY',
        { actualVersion: 4 },
      );
      assert.deepEqual(error.stream, { ...stream });
      assert.equal(error.expectedVersion.kind, 'exact');
      assert.equal(error.expectedVersion.version, 3);
      assert.equal(typeof error.actualVersion, 'number');
    });

    api.it(
      'a rejected expectation inside a larger transaction rolls back its earlier appends',
      async () => {
        const current = subject();
        const other = uniqueStream('ev-rollback-other');
        const stream = uniqueStream('ev-rollback');
        await appendInTransaction(current.store, ExpectedVersion.noStream(), [makeEvent(stream)]);
        await assertNothingWritten(
          current,
          () =>
            assertRejectsWith(
              current.store.transaction(async (tx) => {
                await current.store.append(tx, ExpectedVersion.noStream(), [makeEvent(other)]);
                await current.store.append(tx, ExpectedVersion.noStream(), [makeEvent(stream)]);
              }),
              OptimisticConcurrencyError,
              'OPTIMISTIC_CONCURRENCY',
              { actualVersion: 1 },
            ),
          [stream, other],
        );
      },
    );

    api.it('appends in one transaction see each other’s versions', async () => {
      const { store } = subject();
      const stream = uniqueStream('ev-same-tx');
      const [first, second] = await store.transaction(async (tx) => [
        await store.append(tx, ExpectedVersion.noStream(), makeEvents(stream, 2)),
        await store.append(tx, ExpectedVersion.exact(2), makeEvents(stream, 1)),
      ]);
      assert.equal(first?.toVersion, 2);
      assert.equal(second?.fromVersion, 2);
      assert.equal(second?.toVersion, 3);
      assert.equal((await readStream(store, stream)).version, 3);
    });
  });
}
