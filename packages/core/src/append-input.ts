import {
  DuplicateEventIdError,
  InvalidArgumentError,
  InvalidEventError,
  NoEventsError,
} from './errors.js';
import {
  currentEventVersion,
  type ResolvedEventOptions,
  validateAppendedPayload,
} from './event-options.js';
import { type ExpectedVersion, toExpectedVersion } from './expected-version.js';
import { inputLimits, textProblem } from './input-limits.js';
import { fnv1a32 } from './projection/partition.js';
import type { Serializer } from './serializer.js';
import type { AppendResult, Checkpoint, NewEvent, PersistedEvent, StreamRef } from './types.js';
import { isUuid, uuidv7 } from './uuid.js';

/** One event of an append, validated and encoded, ready for the adapter's INSERT. */
export interface PreparedEvent {
  eventId: string;
  eventType: string;
  eventVersion: number;
  /** The serialized payload. */
  payloadBytes: Uint8Array;
  /** The payload as given, returned in the append result. */
  payload: unknown;
  /** Metadata as JSON text, or `null`. */
  metadataJson: string | null;
  /** Metadata as given, returned in the append result. */
  metadata: Record<string, unknown> | null;
  traceId: string | null;
  correlationId: string | null;
  causationId: string | null;
  createdAt: Date;
}

/** A validated append: its one stream, its expectation and its encoded events. */
export interface PreparedAppend {
  stream: StreamRef;
  expected: ExpectedVersion;
  events: PreparedEvent[];
  /**
   * `fnv1a32(stream.aggregateId)`: the hash segments and hash partitions split aggregates by.
   * Adapters that filter projection batches by segment in the database store it with each event.
   */
  aggregateHash: number;
}

const STREAM_FIELDS = ['boundedContext', 'aggregateType', 'aggregateId'] as const;
const STREAM_FIELD_LIMITS = {
  boundedContext: inputLimits.maxBoundedContextLength,
  aggregateType: inputLimits.maxAggregateTypeLength,
  aggregateId: inputLimits.maxAggregateIdLength,
} as const;
const OPTIONAL_TEXT_FIELDS = ['traceId', 'correlationId', 'causationId'] as const;

function requireText(
  event: Record<string, unknown>,
  index: number,
  field: string,
  maxLength: number,
): string {
  const value = event[field];
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidEventError(index, field, 'must be a non-empty string');
  }
  checkText(value, index, field, maxLength);
  return value;
}

function optionalText(event: Record<string, unknown>, index: number, field: string): string | null {
  const value = event[field];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') {
    throw new InvalidEventError(index, field, 'must be a string or null');
  }
  checkText(value, index, field, inputLimits.maxTraceIdLength);
  return value;
}

function checkText(value: string, index: number, field: string, maxLength: number): void {
  if (value.length > maxLength) {
    throw new InvalidEventError(index, field, `must be at most ${maxLength} characters long`);
  }
  const problem = textProblem(value);
  if (problem !== undefined) throw new InvalidEventError(index, field, problem);
}

/** JSON.stringify replacer that rejects keys and strings no database stores alike. */
function metadataText(this: unknown, key: string, value: unknown): unknown {
  if (textProblem(key) !== undefined) throw new MetadataTextError(key);
  if (typeof value === 'string' && textProblem(value) !== undefined) {
    throw new MetadataTextError(key);
  }
  return value;
}

class MetadataTextError extends Error {
  constructor(readonly key: string) {
    super(`the value at key ${JSON.stringify(key)} contains a NUL character or a lone surrogate`);
  }
}

function encodeMetadata(
  value: unknown,
  index: number,
): { json: string | null; metadata: Record<string, unknown> | null } {
  if (value === undefined || value === null) return { json: null, metadata: null };
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidEventError(index, 'metadata', 'must be a plain object or null');
  }
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
    // NUL and lone surrogates come out of JSON.stringify as \u escapes: only when the text has
    // one is it worth walking every key and string.
    if (json?.includes('\\u')) JSON.stringify(value, metadataText);
  } catch (error) {
    if (error instanceof MetadataTextError) {
      throw new InvalidEventError(
        index,
        'metadata',
        `strings and keys must not contain NUL characters or lone surrogates (${error.message})`,
      );
    }
    throw new InvalidEventError(index, 'metadata', 'cannot be serialized to JSON', {
      cause: error,
    });
  }
  if (json === undefined) {
    throw new InvalidEventError(index, 'metadata', 'cannot be serialized to JSON');
  }
  if (json.length > inputLimits.maxMetadataLength) {
    throw new InvalidEventError(
      index,
      'metadata',
      `must be at most ${inputLimits.maxMetadataLength} characters as JSON`,
    );
  }
  return { json, metadata: value as Record<string, unknown> };
}

/**
 * Validates and encodes the input of an append. Every adapter calls it before touching the
 * database, so bad input fails the same way everywhere and nothing is written.
 *
 * With `eventOptions` (the store's resolved `events` option), an event without `eventVersion`
 * gets its type's current version, and payloads are checked against their type's schema.
 *
 * @throws {NoEventsError} when `events` is empty.
 * @throws {InvalidEventError} naming the first invalid event and field (for a payload that fails
 * its schema: field `payload`, with `eventType` and the schema's `issues`).
 * @throws {DuplicateEventIdError} when two events of the call share an id.
 * @throws {InvalidArgumentError} when `expected` is not an `ExpectedVersion`.
 * @throws {InvalidConfigError} when a schema validates asynchronously.
 */
export function prepareAppend(
  expectedVersion: ExpectedVersion,
  events: readonly NewEvent[],
  serializer: Serializer,
  now: Date = new Date(),
  eventOptions?: ResolvedEventOptions,
): PreparedAppend {
  const expected = toExpectedVersion(expectedVersion);
  if (!Array.isArray(events)) {
    throw new InvalidArgumentError('events', 'must be an array of events');
  }
  if (events.length === 0) throw new NoEventsError();
  if (events.length > inputLimits.maxEventsPerAppend) {
    throw new InvalidArgumentError(
      'events',
      `at most ${inputLimits.maxEventsPerAppend} events per append, got ${events.length}`,
    );
  }
  let appendBytes = 0;

  const prepared: PreparedEvent[] = new Array(events.length);
  let stream: StreamRef | undefined;
  let lastEventType: string | undefined;
  let ids: Set<string> | undefined;
  for (let index = 0; index < events.length; index++) {
    const event = events[index] as unknown as Record<string, unknown>;
    if (typeof event !== 'object' || event === null) {
      throw new InvalidEventError(index, 'event', 'must be an object');
    }
    if (stream === undefined) {
      stream = {
        boundedContext: requireText(
          event,
          index,
          'boundedContext',
          inputLimits.maxBoundedContextLength,
        ),
        aggregateType: requireText(
          event,
          index,
          'aggregateType',
          inputLimits.maxAggregateTypeLength,
        ),
        aggregateId: requireText(event, index, 'aggregateId', inputLimits.maxAggregateIdLength),
      };
    } else {
      // Equal to the first event's (already checked) stream, or an error either way.
      for (const field of STREAM_FIELDS) {
        if (event[field] !== stream[field]) {
          requireText(event, index, field, STREAM_FIELD_LIMITS[field]);
          throw new InvalidEventError(
            index,
            field,
            'all events of one append must belong to the same stream',
          );
        }
      }
    }
    // Events of one append often share their type: check each distinct one once.
    let eventType: string;
    if (event.eventType === lastEventType && lastEventType !== undefined) {
      eventType = lastEventType;
    } else {
      eventType = requireText(event, index, 'eventType', inputLimits.maxEventTypeLength);
      lastEventType = eventType;
    }

    let eventId: string;
    if (event.eventId === undefined || event.eventId === null) {
      eventId = uuidv7(now.getTime());
    } else if (isUuid(event.eventId)) {
      eventId = event.eventId.toLowerCase();
    } else {
      throw new InvalidEventError(index, 'eventId', 'must be a UUID');
    }
    if (events.length > 1) {
      ids ??= new Set();
      if (ids.has(eventId)) throw new DuplicateEventIdError(eventId);
      ids.add(eventId);
    }

    const eventVersion =
      event.eventVersion ??
      (eventOptions === undefined ? 1 : currentEventVersion(eventOptions, eventType));
    if (
      typeof eventVersion !== 'number' ||
      !Number.isSafeInteger(eventVersion) ||
      eventVersion < 1 ||
      eventVersion > inputLimits.maxEventVersion
    ) {
      throw new InvalidEventError(
        index,
        'eventVersion',
        `must be an integer from 1 to ${inputLimits.maxEventVersion}`,
      );
    }

    const createdAt = event.createdAt ?? now;
    if (!(createdAt instanceof Date) || Number.isNaN(createdAt.getTime())) {
      throw new InvalidEventError(index, 'createdAt', 'must be a valid Date');
    }
    const time = createdAt.getTime();
    if (time < inputLimits.minCreatedAt || time > inputLimits.maxCreatedAt) {
      throw new InvalidEventError(
        index,
        'createdAt',
        'must lie between 1000-01-01 and 9999-12-31 (UTC)',
      );
    }

    const traceId = optionalText(event, index, OPTIONAL_TEXT_FIELDS[0]);
    const correlationId = optionalText(event, index, OPTIONAL_TEXT_FIELDS[1]);
    const causationId = optionalText(event, index, OPTIONAL_TEXT_FIELDS[2]);
    const { json: metadataJson, metadata } = encodeMetadata(event.metadata, index);
    if (eventOptions?.schemas != null) {
      validateAppendedPayload(eventOptions, index, {
        boundedContext: stream!.boundedContext,
        aggregateType: stream!.aggregateType,
        aggregateId: stream!.aggregateId,
        eventId,
        eventType,
        eventVersion,
        metadata,
        createdAt,
        payload: event.payload,
      });
    }

    let payloadBytes: Uint8Array;
    try {
      payloadBytes = serializer.serialize(event.payload, events[index]!);
    } catch (error) {
      throw new InvalidEventError(
        index,
        'payload',
        error instanceof Error ? error.message : 'cannot be serialized',
        { cause: error },
      );
    }
    if (!(payloadBytes instanceof Uint8Array)) {
      throw new InvalidEventError(index, 'payload', 'the serializer did not return a Uint8Array');
    }
    if (payloadBytes.byteLength > inputLimits.maxPayloadBytes) {
      throw new InvalidEventError(
        index,
        'payload',
        `is ${payloadBytes.byteLength} bytes serialized; at most ${inputLimits.maxPayloadBytes} are allowed`,
      );
    }
    appendBytes += payloadBytes.byteLength;
    if (appendBytes > inputLimits.maxAppendBytes) {
      throw new InvalidArgumentError(
        'events',
        `the payloads of one append exceed ${inputLimits.maxAppendBytes} bytes serialized`,
      );
    }

    prepared[index] = {
      eventId,
      eventType,
      eventVersion,
      payloadBytes,
      payload: event.payload,
      metadataJson,
      metadata,
      traceId,
      correlationId,
      causationId,
      createdAt,
    };
  }
  return {
    stream: stream!,
    expected,
    events: prepared,
    aggregateHash: fnv1a32(stream!.aggregateId),
  };
}

/**
 * Builds the result of an append from what the adapter assigned: the version the stream had
 * before, and each event's global position and checkpoint.
 */
export function buildAppendResult(
  append: PreparedAppend,
  fromVersion: number,
  globalPositions: number[],
  checkpoints: Checkpoint[],
): AppendResult {
  const { stream } = append;
  const events: PersistedEvent[] = append.events.map((event, i) => ({
    boundedContext: stream.boundedContext,
    aggregateType: stream.aggregateType,
    aggregateId: stream.aggregateId,
    globalPosition: globalPositions[i]!,
    aggregateVersion: fromVersion + i + 1,
    checkpoint: checkpoints[i]!,
    eventId: event.eventId,
    eventType: event.eventType,
    eventVersion: event.eventVersion,
    payload: event.payload,
    metadata: event.metadata,
    traceId: event.traceId,
    correlationId: event.correlationId,
    causationId: event.causationId,
    createdAt: event.createdAt,
  }));
  return {
    events,
    globalPositions,
    fromVersion,
    toVersion: fromVersion + append.events.length,
  };
}
