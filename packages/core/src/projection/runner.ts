import { isAbortSignal } from '../abort-signal.js';
import { InvalidArgumentError, InvalidConfigError, ProjectionError } from '../errors.js';
import type { DomainEvent } from '../typed-events.js';
import type { EventStore } from '../types.js';
import { ProjectionProcessor } from './processor.js';
import type { Projection, ProjectionProcessorConfig, RunOptions } from './types.js';

/** One projection and the processor that runs it, for {@link runProjections}. */
export interface ProjectionRunEntry<Tx = unknown, E extends object = DomainEvent> {
  /** The projection to run. */
  projection: Projection<Tx, E>;
  /** The processor that runs it (its store, batch size, partition, logger). */
  processor: ProjectionProcessor<Tx, E>;
}

/** Options of {@link runProjectionPartitions}: the processor's configuration and a stop signal. */
export interface RunProjectionPartitionsOptions
  extends Omit<ProjectionProcessorConfig, 'partitionKey' | 'totalPartitions'>,
    RunOptions {}

/**
 * Runs several projections concurrently until `options.signal` aborts, then resolves once every
 * one has stopped. The first failure aborts the others; once they have all stopped, the returned
 * promise rejects with that failure: a {@link ProjectionError} whose `projectionName` names the
 * projection that failed.
 *
 * @throws {InvalidArgumentError} (as a rejection) when `entries` is not an array of
 * `{ projection, processor }`.
 * @throws {InvalidConfigError} (as a rejection) when two entries would share a checkpoint, or a
 * projection definition is invalid.
 *
 * @example
 * const controller = new AbortController();
 * process.once('SIGTERM', () => controller.abort());
 * await runProjections(
 *   [
 *     { projection: orderTotals, processor: new ProjectionProcessor(store) },
 *     { projection: emailSender, processor: new ProjectionProcessor(store, { batchSize: 10 }) },
 *   ],
 *   { signal: controller.signal },
 * );
 */
export async function runProjections<Tx, E extends object = DomainEvent>(
  entries: readonly ProjectionRunEntry<Tx, E>[],
  options: RunOptions = {},
): Promise<void> {
  if (!Array.isArray(entries)) {
    throw new InvalidArgumentError('entries', 'must be an array of { projection, processor }');
  }
  const seen = new Set<string>();
  entries.forEach((entry, i) => {
    if (
      typeof entry !== 'object' ||
      entry === null ||
      !(entry.processor instanceof ProjectionProcessor)
    ) {
      throw new InvalidArgumentError(
        `entries[${i}]`,
        'must be { projection, processor: ProjectionProcessor }',
      );
    }
    const name = entry.processor.checkpointName(entry.projection);
    if (seen.has(name)) {
      throw new InvalidConfigError(
        `entries[${i}]`,
        `checkpoint ${JSON.stringify(name)} is already used by another entry`,
      );
    }
    seen.add(name);
  });
  const outer = options?.signal;
  if (outer !== undefined && !isAbortSignal(outer)) {
    throw new InvalidArgumentError('signal', 'must be an AbortSignal');
  }
  if (outer?.aborted) return;

  const controller = new AbortController();
  const onAbort = (): void => controller.abort(outer?.reason);
  outer?.addEventListener('abort', onAbort, { once: true });
  let failure: ProjectionError | undefined;
  try {
    await Promise.all(
      entries.map(async ({ projection, processor }) => {
        try {
          await processor.run(projection, { signal: controller.signal });
        } catch (error) {
          if (failure === undefined) {
            failure =
              error instanceof ProjectionError
                ? error
                : new ProjectionError(String(projection.name), 'failed to run', { cause: error });
            controller.abort(failure);
          }
        }
      }),
    );
  } finally {
    outer?.removeEventListener('abort', onAbort);
  }
  if (failure !== undefined) throw failure;
}

/**
 * Runs every partition of one projection in this process, each with its own processor and
 * checkpoint (`<name>_p<key>`), until `options.signal` aborts. Behaves like
 * {@link runProjections}: the first failing partition stops the others and its
 * {@link ProjectionError} rejects the promise.
 *
 * To spread partitions over several processes or machines instead, start one
 * {@link ProjectionProcessor} per process with its own `partitionKey` and the same
 * `totalPartitions`.
 *
 * @param totalPartitions How many partitions to run, from 1.
 * @param options The processor configuration shared by every partition, and the stop signal.
 * @throws {InvalidConfigError} (as a rejection) on an invalid `totalPartitions` or option.
 *
 * @example
 * await runProjectionPartitions(store, orderTotals, 4, { signal, batchSize: 200 });
 */
export async function runProjectionPartitions<Tx, E extends object = DomainEvent>(
  store: EventStore<Tx, E>,
  projection: Projection<Tx, E>,
  totalPartitions: number,
  options: RunProjectionPartitionsOptions = {},
): Promise<void> {
  if (!Number.isSafeInteger(totalPartitions) || totalPartitions < 1) {
    throw new InvalidConfigError('totalPartitions', 'must be a positive integer');
  }
  const { signal, ...config } = options ?? {};
  if ('partitionKey' in config || 'totalPartitions' in config) {
    throw new InvalidConfigError(
      'partitionKey',
      'is set for each partition by runProjectionPartitions; pass totalPartitions as an argument',
    );
  }
  const entries: ProjectionRunEntry<Tx, E>[] = [];
  for (let partitionKey = 0; partitionKey < totalPartitions; partitionKey++) {
    entries.push({
      projection,
      processor: new ProjectionProcessor(store, { ...config, partitionKey, totalPartitions }),
    });
  }
  await runProjections(entries, { signal });
}
