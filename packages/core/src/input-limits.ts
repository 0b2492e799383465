/**
 * What every adapter accepts, checked in core before any SQL runs, so the same input is valid or
 * rejected with the same typed error on every database. The limits are the largest values every
 * supported database can store and index (MySQL's 3072-byte index keys in utf8mb4, PostgreSQL's
 * B-tree rows of about 2.7 KB, MySQL `DATETIME`'s range, `INT` event versions).
 *
 * Text lengths count UTF-16 code units (JavaScript's `string.length`). Every identifier and name
 * (bounded context, aggregate type and id, event type, trace, correlation and causation ids,
 * projection names) must be well-formed Unicode (no lone surrogates) without NUL characters;
 * metadata strings and keys too. Payload bytes are free-form.
 */
export const inputLimits = Object.freeze({
  /** Longest `boundedContext`. */
  maxBoundedContextLength: 100,
  /** Longest `aggregateType`. */
  maxAggregateTypeLength: 100,
  /** Longest `aggregateId`. */
  maxAggregateIdLength: 255,
  /** Longest `eventType`. */
  maxEventTypeLength: 255,
  /** Longest `traceId`, `correlationId` or `causationId`. */
  maxTraceIdLength: 255,
  /** Longest projection (checkpoint) name. */
  maxProjectionNameLength: 255,
  /** Largest `eventVersion` (32-bit signed). */
  maxEventVersion: 2_147_483_647,
  /** Earliest `createdAt`: 1000-01-01T00:00:00.000Z. */
  minCreatedAt: Date.UTC(1000, 0, 1),
  /** Latest `createdAt`: 9999-12-31T23:59:59.999Z. */
  maxCreatedAt: Date.UTC(9999, 11, 31, 23, 59, 59, 999),
  /** Largest serialized payload of one event, in bytes (4 MiB). */
  maxPayloadBytes: 4 * 1024 * 1024,
  /** Largest metadata of one event as JSON text, in UTF-16 code units (64 Ki). */
  maxMetadataLength: 64 * 1024,
  /** Most events in one append. */
  maxEventsPerAppend: 10_000,
  /** Largest sum of the serialized payloads of one append, in bytes (32 MiB). */
  maxAppendBytes: 32 * 1024 * 1024,
});

/** The limits of {@link inputLimits}. */
export type InputLimits = typeof inputLimits;

/** `String.prototype.isWellFormed` (Node.js 20 has it; TypeScript's ES2023 library does not). */
interface WellFormedCheck {
  isWellFormed(): boolean;
}

/**
 * Why `value` cannot be stored as a name or id, or `undefined` when it can: a NUL character or a
 * lone surrogate (which some databases reject and others silently replace, merging different ids).
 */
export function textProblem(value: string): string | undefined {
  if (value.includes('\u0000')) return 'must not contain NUL characters';
  if (!(value as unknown as WellFormedCheck).isWellFormed())
    return 'must be well-formed Unicode (no lone surrogates)';
  return undefined;
}
