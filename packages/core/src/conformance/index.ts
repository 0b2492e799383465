import { describeAppendConformance } from './groups/append.js';
import { describeAppendToStreamConformance } from './groups/append-to-stream.js';
import { describeBadInputConformance } from './groups/bad-input.js';
import { describeCheckpointConformance } from './groups/checkpoints.js';
import { describeCloseConformance } from './groups/close.js';
import { describeConcurrencyConformance } from './groups/concurrency.js';
import { describeConfigConformance } from './groups/config.js';
import { describeErrorContractConformance } from './groups/error-contract.js';
import { describeEventOptionsConformance } from './groups/event-options.js';
import { describeExpectedVersionConformance } from './groups/expected-version.js';
import { describeIterationConformance } from './groups/iteration.js';
import { describeNestedTransactionConformance } from './groups/nested-transactions.js';
import { describeOrderingConformance } from './groups/ordering.js';
import { describePayloadConformance } from './groups/payloads.js';
import { describeReadAggregateStreamConformance } from './groups/read-aggregate-stream.js';
import { describeReadEventsConformance } from './groups/read-events.js';
import { describeStreamIdentityConformance } from './groups/stream-identity.js';
import { describeTransactionConformance } from './groups/transactions.js';
import { describeWaitForEventsConformance } from './groups/wait-for-events.js';
import { describeProjectionConformance } from './projections/index.js';
import type { ConformanceHarness, ConformanceTestApi } from './types.js';

/**
 * Registers the whole conformance suite for one adapter: every store group, then the projection
 * groups. Call it at the top level of a test file; `testApi` comes from your runner.
 *
 * @example
 * // vitest
 * import { afterAll, afterEach, beforeAll, beforeEach, describe, it } from 'vitest';
 * import { describeEventStoreConformance } from '@pup/core/conformance';
 *
 * describeEventStoreConformance(
 *   { describe, it, beforeAll, afterAll, beforeEach, afterEach },
 *   {
 *     name: 'my adapter',
 *     createStore: async (options) => {
 *       const store = createMyEventStore(await openDatabase(), options);
 *       await store.migrate();
 *       return { store, cleanup: () => store.close() };
 *     },
 *     capabilities: { concurrentTransactions: true },
 *   },
 * );
 *
 * @example
 * // node:test
 * import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
 * describeEventStoreConformance(
 *   { describe, it, beforeAll: before, afterAll: after, beforeEach, afterEach },
 *   harness,
 * );
 */
export function describeEventStoreConformance(
  testApi: ConformanceTestApi,
  harness: ConformanceHarness,
): void {
  testApi.describe(`pup event store conformance: ${harness.name}`, () => {
    describeAppendConformance(testApi, harness);
    describeAppendToStreamConformance(testApi, harness);
    describeExpectedVersionConformance(testApi, harness);
    describeConcurrencyConformance(testApi, harness);
    describeStreamIdentityConformance(testApi, harness);
    describeReadAggregateStreamConformance(testApi, harness);
    describeReadEventsConformance(testApi, harness);
    describeOrderingConformance(testApi, harness);
    describeTransactionConformance(testApi, harness);
    describeNestedTransactionConformance(testApi, harness);
    describeCheckpointConformance(testApi, harness);
    describePayloadConformance(testApi, harness);
    describeBadInputConformance(testApi, harness);
    describeErrorContractConformance(testApi, harness);
    describeWaitForEventsConformance(testApi, harness);
    describeCloseConformance(testApi, harness);
    describeConfigConformance(testApi, harness);
    describeEventOptionsConformance(testApi, harness);
    describeIterationConformance(testApi, harness);
    describeProjectionConformance(testApi, harness);
  });
}

export { describeAppendConformance } from './groups/append.js';
export { describeAppendToStreamConformance } from './groups/append-to-stream.js';
export { describeBadInputConformance } from './groups/bad-input.js';
export { describeCheckpointConformance } from './groups/checkpoints.js';
export { describeCloseConformance } from './groups/close.js';
export { describeConcurrencyConformance } from './groups/concurrency.js';
export { CUSTOM_TABLE_NAMES, describeConfigConformance } from './groups/config.js';
export { describeErrorContractConformance } from './groups/error-contract.js';
export { describeEventOptionsConformance } from './groups/event-options.js';
export { describeExpectedVersionConformance } from './groups/expected-version.js';
export { describeIterationConformance } from './groups/iteration.js';
export { describeNestedTransactionConformance } from './groups/nested-transactions.js';
export { describeOrderingConformance } from './groups/ordering.js';
export { describePayloadConformance } from './groups/payloads.js';
export { describeReadAggregateStreamConformance } from './groups/read-aggregate-stream.js';
export { describeReadEventsConformance } from './groups/read-events.js';
export { describeStreamIdentityConformance } from './groups/stream-identity.js';
export { describeTransactionConformance } from './groups/transactions.js';
export { describeWaitForEventsConformance } from './groups/wait-for-events.js';
export {
  assertNothingWritten,
  assertRejectsWith,
  assertThrowsWith,
  type Deferred,
  type ErrorClass,
  makeEvent,
  makeEvents,
  type StoreSnapshot,
  snapshotStore,
  uniqueId,
  uniqueStream,
} from './helpers.js';
export {
  CheckpointTableReadModel,
  CRASH_WORKER_ENV,
  type CrashRecord,
  type CrashWorkerCommand,
  describeProjectionConformance,
  describeProjectionCrashConformance,
  describeProjectionDeadLetterConformance,
  describeProjectionFailureConformance,
  describeProjectionLazyDecodingConformance,
  describeProjectionPartitionConformance,
  describeProjectionProcessingConformance,
  describeProjectionScopeConformance,
  describeProjectionStatusConformance,
  describeProjectionWakeUpConformance,
  describeProjectionWorkerConformance,
  type ProjectionCrashScenarioOptions,
  type ProjectionCrashScenarioReport,
  type ProjectionCrashWorkerOptions,
  runProjectionCrashScenario,
  runProjectionCrashWorker,
} from './projections/index.js';
export { DEFAULT_TEST_TIMEOUT_MS } from './time-limits.js';
export type {
  ConformanceCapabilities,
  ConformanceHarness,
  ConformanceInspector,
  ConformanceStore,
  ConformanceTestApi,
  TestFn,
} from './types.js';
