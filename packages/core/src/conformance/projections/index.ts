import type { ConformanceHarness, ConformanceTestApi } from '../types.js';
import { describeProjectionCrashConformance } from './crash.js';
import { describeProjectionDeadLetterConformance } from './dead-letters.js';
import { describeProjectionFailureConformance } from './failures.js';
import { describeProjectionLazyDecodingConformance } from './lazy-decoding.js';
import { describeProjectionPartitionConformance } from './partitions.js';
import { describeProjectionProcessingConformance } from './processing.js';
import { describeProjectionScopeConformance } from './scope.js';
import { describeProjectionStatusConformance } from './status.js';
import { describeProjectionWakeUpConformance } from './wake-up.js';
import { describeProjectionWorkerConformance } from './workers.js';

export {
  CRASH_WORKER_ENV,
  type CrashRecord,
  type CrashWorkerCommand,
  describeProjectionCrashConformance,
  type ProjectionCrashScenarioOptions,
  type ProjectionCrashScenarioReport,
  type ProjectionCrashWorkerOptions,
  runProjectionCrashScenario,
  runProjectionCrashWorker,
} from './crash.js';
export { CheckpointTableReadModel } from './support.js';
export {
  describeProjectionDeadLetterConformance,
  describeProjectionFailureConformance,
  describeProjectionLazyDecodingConformance,
  describeProjectionPartitionConformance,
  describeProjectionProcessingConformance,
  describeProjectionScopeConformance,
  describeProjectionStatusConformance,
  describeProjectionWakeUpConformance,
  describeProjectionWorkerConformance,
};

/**
 * Registers every projection conformance group: processing (exactly-once effects, order, resume,
 * stop), scope, partitions, failures and stops, status, wake-up through `waitForEvents`, workers,
 * dead-letter replay, and crash recovery (when the harness can start a worker process).
 * Projections run with core's {@link ProjectionProcessor}, so the groups check that the store
 * gives it what it relies on: transactions that commit a read model and a checkpoint together or
 * not at all, and reads that resume exactly after a checkpoint.
 *
 * Each test creates its own store with `harness.createStore()`.
 */
export function describeProjectionConformance(
  testApi: ConformanceTestApi,
  harness: ConformanceHarness,
): void {
  describeProjectionProcessingConformance(testApi, harness);
  describeProjectionScopeConformance(testApi, harness);
  describeProjectionLazyDecodingConformance(testApi, harness);
  describeProjectionPartitionConformance(testApi, harness);
  describeProjectionFailureConformance(testApi, harness);
  describeProjectionStatusConformance(testApi, harness);
  describeProjectionWakeUpConformance(testApi, harness);
  describeProjectionWorkerConformance(testApi, harness);
  describeProjectionDeadLetterConformance(testApi, harness);
  describeProjectionCrashConformance(testApi, harness);
}
