import { InvalidConfigError } from '../errors.js';
import type { Logger } from '../logger.js';
import { MAX_READ_LIMIT } from '../read-input.js';
import type { EventStore } from '../types.js';
import { hashPartitionStrategy, type PartitionStrategy } from './partition.js';
import type { Projection, ProjectionErrorPolicy, ProjectionProcessorConfig } from './types.js';

/** {@link ProjectionProcessorConfig} with defaults filled in and every value validated. */
export interface ResolvedProjectionProcessorConfig {
  /** Events read and handled per transaction when caught up, and the first batch's size. */
  readonly batchSize: number;
  /** Largest batch while catching up. */
  readonly maxBatchSize: number;
  /** A batch slower than this (ms) halves the next one. */
  readonly maxBatchDurationMs: number;
  /** Longest wait for new events once caught up, in milliseconds. */
  readonly pollIntervalMs: number;
  /** This processor's partition. */
  readonly partitionKey: number;
  /** How many partitions share the projection; 1 = not partitioned. */
  readonly totalPartitions: number;
  /** Decides which aggregate belongs to which partition. */
  readonly partitionStrategy: PartitionStrategy;
  /** Whether the database may leave out other hash partitions' events. */
  readonly serverSideFiltering: boolean;
  /** Where the processor logs, or `undefined` for no logging. */
  readonly logger: Logger | undefined;
  /** How batches that failed on a transient database error are retried. */
  readonly retry: {
    readonly maxRetries: number;
    readonly initialDelayMs: number;
    readonly maxDelayMs: number;
  };
}

/** Longest accepted `pollIntervalMs`: the largest delay `setTimeout` honours. */
const MAX_POLL_INTERVAL_MS = 2_147_483_647;

/** Longest projection name: checkpoint keys are at most 255 characters, minus room for `_p<key>`. */
const MAX_PROJECTION_NAME_LENGTH = 240;

const LOGGER_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

function integerIn(option: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidConfigError(option, `must be an integer from ${min} to ${max}`);
  }
  return value;
}

/**
 * Validates a processor's configuration and fills in the defaults.
 * @throws {InvalidConfigError} naming the first invalid option.
 */
export function resolveProjectionProcessorConfig(
  config: ProjectionProcessorConfig | undefined | null,
): ResolvedProjectionProcessorConfig {
  if (config !== undefined && config !== null && typeof config !== 'object') {
    throw new InvalidConfigError('config', 'must be an object');
  }
  const c = config ?? {};
  const batchSize = integerIn('batchSize', c.batchSize ?? 100, 1, MAX_READ_LIMIT);
  const maxBatchSize = integerIn(
    'maxBatchSize',
    c.maxBatchSize ?? Math.max(1000, batchSize),
    batchSize,
    MAX_READ_LIMIT,
  );
  const maxBatchDurationMs = integerIn(
    'maxBatchDurationMs',
    c.maxBatchDurationMs ?? 1000,
    1,
    MAX_POLL_INTERVAL_MS,
  );
  const pollIntervalMs = integerIn(
    'pollIntervalMs',
    c.pollIntervalMs ?? 100,
    1,
    MAX_POLL_INTERVAL_MS,
  );
  const totalPartitions = integerIn('totalPartitions', c.totalPartitions ?? 1, 1, 2 ** 32);
  const partitionKey = integerIn('partitionKey', c.partitionKey ?? 0, 0, totalPartitions - 1);
  const partitionStrategy = c.partitionStrategy ?? hashPartitionStrategy;
  if (
    typeof partitionStrategy !== 'object' ||
    partitionStrategy === null ||
    typeof partitionStrategy.shouldProcess !== 'function'
  ) {
    throw new InvalidConfigError('partitionStrategy', 'must have a shouldProcess function');
  }
  const serverSideFiltering = c.serverSideFiltering ?? true;
  if (typeof serverSideFiltering !== 'boolean') {
    throw new InvalidConfigError('serverSideFiltering', 'must be a boolean');
  }
  const logger = c.logger ?? undefined;
  if (
    logger !== undefined &&
    (typeof logger !== 'object' ||
      logger === null ||
      !LOGGER_LEVELS.every((level) => typeof logger[level] === 'function'))
  ) {
    throw new InvalidConfigError('logger', 'must have debug, info, warn and error functions');
  }
  if (c.retry !== undefined && c.retry !== null && typeof c.retry !== 'object') {
    throw new InvalidConfigError('retry', 'must be { maxRetries?, initialDelayMs?, maxDelayMs? }');
  }
  const maxRetries = integerIn('retry.maxRetries', c.retry?.maxRetries ?? 20, 0, 1_000_000);
  const initialDelayMs = integerIn(
    'retry.initialDelayMs',
    c.retry?.initialDelayMs ?? 100,
    1,
    MAX_POLL_INTERVAL_MS,
  );
  const maxDelayMs = integerIn(
    'retry.maxDelayMs',
    c.retry?.maxDelayMs ?? Math.max(10_000, initialDelayMs),
    initialDelayMs,
    MAX_POLL_INTERVAL_MS,
  );
  return {
    batchSize,
    maxBatchSize,
    maxBatchDurationMs,
    pollIntervalMs,
    partitionKey,
    totalPartitions,
    partitionStrategy,
    serverSideFiltering,
    logger,
    retry: { maxRetries, initialDelayMs, maxDelayMs },
  };
}

/**
 * Checks that `store` has the methods a projection needs.
 * @throws {InvalidConfigError} when one is missing.
 */
export function assertProjectionStore(store: EventStore<any, any>): void {
  if (typeof store !== 'object' || store === null) {
    throw new InvalidConfigError('store', 'must be an EventStore');
  }
  for (const method of ['transaction', 'readEvents', 'getCheckpoint', 'saveCheckpoint'] as const) {
    if (typeof store[method] !== 'function') {
      throw new InvalidConfigError('store', `has no ${method} function`);
    }
  }
}

function validateScope(option: string, value: unknown): ReadonlySet<string> | null {
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && v.length > 0)) {
    throw new InvalidConfigError(option, 'must be an array of non-empty strings');
  }
  return value.length === 0 ? null : new Set(value);
}

/** A validated projection definition, with its scope as sets (`null` = everything). */
export interface ResolvedProjection<Tx> {
  readonly projection: Projection<Tx, any>;
  readonly name: string;
  readonly aggregateTypes: ReadonlySet<string> | null;
  readonly boundedContexts: ReadonlySet<string> | null;
  /** The handler error policy: `maxAttempts` 1 stops at the first failure. */
  readonly errorPolicy: {
    /** Whether an event still failing after `maxAttempts` is set aside as a dead letter. */
    readonly deadLetter: boolean;
    readonly maxAttempts: number;
    readonly initialDelayMs: number;
    readonly maxDelayMs: number;
  };
}

/**
 * Validates a projection definition.
 * @throws {InvalidConfigError} on a missing or too long name, a missing `handle` or a scope that
 * is not an array of strings.
 */
export function resolveProjection<Tx>(projection: Projection<Tx, any>): ResolvedProjection<Tx> {
  if (typeof projection !== 'object' || projection === null) {
    throw new InvalidConfigError('projection', 'must be an object with name and handle');
  }
  validateProjectionDefinitionName(projection.name);
  if (typeof projection.handle !== 'function') {
    throw new InvalidConfigError('projection.handle', 'must be a function');
  }
  return {
    projection,
    name: projection.name,
    aggregateTypes: validateScope('projection.aggregateTypes', projection.aggregateTypes),
    boundedContexts: validateScope('projection.boundedContexts', projection.boundedContexts),
    errorPolicy: resolveErrorPolicy(projection.onError),
  };
}

function resolveErrorPolicy(policy: ProjectionErrorPolicy | undefined): {
  deadLetter: boolean;
  maxAttempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
} {
  const stop = { deadLetter: false, maxAttempts: 1, initialDelayMs: 100, maxDelayMs: 10_000 };
  if (policy === undefined || policy === null) return stop;
  if (
    typeof policy !== 'object' ||
    (policy.policy !== 'stop' && policy.policy !== 'retry' && policy.policy !== 'deadLetter')
  ) {
    throw new InvalidConfigError(
      'projection.onError',
      "must be { policy: 'stop' | 'retry' | 'deadLetter', … }",
    );
  }
  if (policy.policy === 'stop') return stop;
  const deadLetter = policy.policy === 'deadLetter';
  const maxAttempts = integerIn(
    'projection.onError.maxAttempts',
    policy.maxAttempts ?? (deadLetter ? 1 : 5),
    1,
    1000,
  );
  const initialDelayMs = integerIn(
    'projection.onError.initialDelayMs',
    policy.initialDelayMs ?? 100,
    1,
    MAX_POLL_INTERVAL_MS,
  );
  const maxDelayMs = integerIn(
    'projection.onError.maxDelayMs',
    policy.maxDelayMs ?? Math.max(10_000, initialDelayMs),
    initialDelayMs,
    MAX_POLL_INTERVAL_MS,
  );
  return { deadLetter, maxAttempts, initialDelayMs, maxDelayMs };
}

function validateProjectionDefinitionName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_PROJECTION_NAME_LENGTH) {
    throw new InvalidConfigError(
      'projection.name',
      `must be a non-empty string of at most ${MAX_PROJECTION_NAME_LENGTH} characters`,
    );
  }
}

/**
 * The checkpoint key of a projection: its name, or `<name>_p<partitionKey>` when more than one
 * partition shares it (the same naming as pupsourcing).
 *
 * @example
 * projectionCheckpointName('orders', 0, 1); // 'orders'
 * projectionCheckpointName('orders', 2, 4); // 'orders_p2'
 */
export function projectionCheckpointName(
  projectionName: string,
  partitionKey = 0,
  totalPartitions = 1,
): string {
  validateProjectionDefinitionName(projectionName);
  integerIn('totalPartitions', totalPartitions, 1, 2 ** 32);
  integerIn('partitionKey', partitionKey, 0, totalPartitions - 1);
  return totalPartitions > 1 ? `${projectionName}_p${partitionKey}` : projectionName;
}

/**
 * Checks that the store can do what the projection's `onError` policy needs.
 * @throws {InvalidConfigError} on a `deadLetter` policy with a store without `saveDeadLetter`.
 */
export function assertErrorPolicySupported(
  store: EventStore<any, any>,
  resolved: ResolvedProjection<any>,
): void {
  if (resolved.errorPolicy.deadLetter && typeof store.saveDeadLetter !== 'function') {
    throw new InvalidConfigError(
      'projection.onError',
      "is { policy: 'deadLetter' }, but the store has no saveDeadLetter: its adapter cannot record dead letters",
    );
  }
}
