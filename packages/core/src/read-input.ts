import type { StoredEventRow } from './adapter/dialect.js';
import { InvalidArgumentError } from './errors.js';
import { applyReadRules, type ResolvedEventOptions } from './event-options.js';
import { inputLimits, textProblem } from './input-limits.js';
import type { Serializer } from './serializer.js';
import type {
  Checkpoint,
  PersistedEvent,
  ReadEventsOptions,
  ReadProjectionBatchOptions,
  Stream,
  StreamRef,
  VersionRange,
} from './types.js';

/** Largest `limit` accepted by `readEvents`. */
export const MAX_READ_LIMIT = 100_000;

/**
 * Validates the options of `readEvents`.
 * @throws {InvalidArgumentError} on a missing or out-of-range `limit` or a non-string `after`.
 */
export function validateReadEventsOptions(options: ReadEventsOptions): {
  after: Checkpoint | null;
  limit: number;
} {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('options', 'readEvents needs { after?, limit }');
  }
  const limit = validateLimit(options.limit);
  const after = options.after ?? null;
  if (after !== null && (typeof after !== 'string' || after.length === 0)) {
    throw new InvalidArgumentError('after', 'must be a checkpoint string or null');
  }
  return { after, limit };
}

const STREAM_FIELD_LIMITS = [
  ['boundedContext', inputLimits.maxBoundedContextLength],
  ['aggregateType', inputLimits.maxAggregateTypeLength],
  ['aggregateId', inputLimits.maxAggregateIdLength],
] as const;

/**
 * Validates a stream reference.
 * @throws {InvalidArgumentError} when a part is missing or empty.
 */
export function validateStreamRef(stream: StreamRef): StreamRef {
  if (typeof stream !== 'object' || stream === null) {
    throw new InvalidArgumentError(
      'stream',
      'must be { boundedContext, aggregateType, aggregateId }',
    );
  }
  for (const [field, maxLength] of STREAM_FIELD_LIMITS) {
    const value = stream[field];
    if (typeof value !== 'string' || value.length === 0) {
      throw new InvalidArgumentError(`stream.${field}`, 'must be a non-empty string');
    }
    if (value.length > maxLength) {
      throw new InvalidArgumentError(
        `stream.${field}`,
        `must be at most ${maxLength} characters long`,
      );
    }
    const problem = textProblem(value);
    if (problem !== undefined) throw new InvalidArgumentError(`stream.${field}`, problem);
  }
  return {
    boundedContext: stream.boundedContext,
    aggregateType: stream.aggregateType,
    aggregateId: stream.aggregateId,
  };
}

/**
 * Validates a version range; returns inclusive bounds (`toVersion` null = to the end).
 * @throws {InvalidArgumentError} on a non-integer or negative bound. A reversed range (`fromVersion`
 * after `toVersion`) is valid and reads nothing.
 */
export function validateVersionRange(range: VersionRange | undefined): {
  fromVersion: number;
  toVersion: number | null;
} {
  if (range === undefined || range === null) return { fromVersion: 1, toVersion: null };
  if (typeof range !== 'object') {
    throw new InvalidArgumentError('range', 'must be { fromVersion?, toVersion? }');
  }
  const check = (name: string, value: unknown): number | null => {
    if (value === undefined || value === null) return null;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw new InvalidArgumentError(name, 'must be a non-negative integer');
    }
    return value;
  };
  const fromVersion = Math.max(1, check('fromVersion', range.fromVersion) ?? 1);
  const toVersion = check('toVersion', range.toVersion);
  return { fromVersion, toVersion };
}

/**
 * Validates a projection name used as a checkpoint key.
 * @throws {InvalidArgumentError} when it is not a non-empty string of at most 255 characters.
 */
export function validateProjectionName(name: string): string {
  if (
    typeof name !== 'string' ||
    name.length === 0 ||
    name.length > inputLimits.maxProjectionNameLength
  ) {
    throw new InvalidArgumentError(
      'projectionName',
      `must be a non-empty string of at most ${inputLimits.maxProjectionNameLength} characters`,
    );
  }
  const problem = textProblem(name);
  if (problem !== undefined) throw new InvalidArgumentError('projectionName', problem);
  return name;
}

/**
 * Validates the arguments of `readProjectionBatch`.
 * @throws {InvalidArgumentError} on an invalid projection name or a missing or out-of-range
 * `limit`.
 */
export function validateProjectionBatchInput(
  projectionName: string,
  options: ReadProjectionBatchOptions,
): { projectionName: string; limit: number } {
  validateProjectionName(projectionName);
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('options', 'readProjectionBatch needs { limit }');
  }
  return { projectionName, limit: validateLimit(options.limit) };
}

function validateLimit(limit: unknown): number {
  if (
    typeof limit !== 'number' ||
    !Number.isSafeInteger(limit) ||
    limit < 1 ||
    limit > MAX_READ_LIMIT
  ) {
    throw new InvalidArgumentError('limit', `must be an integer from 1 to ${MAX_READ_LIMIT}`);
  }
  return limit;
}

/**
 * Validates a checkpoint passed to `saveCheckpoint`.
 * @throws {InvalidArgumentError} when it is not a non-empty string.
 */
export function validateCheckpoint(checkpoint: Checkpoint): Checkpoint {
  if (typeof checkpoint !== 'string' || checkpoint.length === 0) {
    throw new InvalidArgumentError('checkpoint', 'must be a non-empty checkpoint string');
  }
  return checkpoint;
}

/**
 * Turns a stored row into a {@link PersistedEvent}, deserializing its payload. With
 * `eventOptions` (the store's resolved `events` option) the payload is then upcast to its type's
 * current version, and checked against its schema when `validateOnRead` is set.
 * @throws {InvalidStoredEventError} when an upcaster throws or the payload fails its schema.
 */
export function decodeEvent(
  row: StoredEventRow,
  serializer: Serializer,
  eventOptions?: ResolvedEventOptions,
): PersistedEvent {
  const event = {
    boundedContext: row.boundedContext,
    aggregateType: row.aggregateType,
    aggregateId: row.aggregateId,
    globalPosition: row.globalPosition,
    aggregateVersion: row.aggregateVersion,
    checkpoint: row.checkpoint,
    eventId: row.eventId,
    eventType: row.eventType,
    eventVersion: row.eventVersion,
    payload: undefined as unknown,
    metadata:
      typeof row.metadata === 'string'
        ? (JSON.parse(row.metadata) as Record<string, unknown>)
        : row.metadata,
    traceId: row.traceId,
    correlationId: row.correlationId,
    causationId: row.causationId,
    createdAt: row.createdAt instanceof Date ? row.createdAt : new Date(row.createdAt),
  };
  event.payload = serializer.deserialize(row.payload, event);
  if (eventOptions !== undefined) applyReadRules(eventOptions, event);
  return event;
}

/** Wraps the events read from one stream into a {@link Stream}. */
export function buildStream(stream: StreamRef, events: PersistedEvent[]): Stream {
  const last = events[events.length - 1];
  return {
    boundedContext: stream.boundedContext,
    aggregateType: stream.aggregateType,
    aggregateId: stream.aggregateId,
    events,
    version: last === undefined ? 0 : last.aggregateVersion,
    isEmpty: events.length === 0,
  };
}
