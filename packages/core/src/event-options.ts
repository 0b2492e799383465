import { InvalidConfigError, InvalidEventError, InvalidStoredEventError } from './errors.js';
import { inputLimits } from './input-limits.js';
import type { StandardSchemaV1 } from './standard-schema.js';
import type { DomainEvent, EventTypeOf, PayloadOf } from './typed-events.js';
import type { PersistedEvent } from './types.js';

/**
 * Run-time rules for payloads, per event type: Standard Schemas that check them and upcasters
 * that bring old versions to the current shape. Given to a store factory as `events`.
 * Nothing here costs anything when it is not configured.
 *
 * @example
 * const store = createSqliteEventStore<BankEvent>(db, {
 *   events: {
 *     schemas: { MoneyDeposited: z.object({ amount: z.number().positive() }) },
 *     upcasters: {
 *       // version 1 stored cents; version 2 stores an amount and a currency
 *       MoneyDeposited: { 1: (old: { cents: number }) => ({ amount: old.cents / 100, currency: 'EUR' }) },
 *     },
 *   },
 * });
 */
export interface EventOptions<E extends object = DomainEvent> {
  /**
   * A Standard Schema (zod, valibot, arktype, …) per event type. Every appended payload of a
   * type with a schema is checked before anything is written; a payload that fails makes the
   * append reject with `InvalidEventError` (field `payload`, with `eventType` and the schema's
   * `issues`), and nothing of that append is written. The schema only checks: the payload is
   * stored as given, not the schema's output. Schemas must validate synchronously: one that
   * returns a promise is refused with `InvalidConfigError` when first used.
   *
   * A schema describes the current version of its event type: an event appended with an older
   * `eventVersion` is checked after the upcasters, as readers will get it.
   */
  schemas?: EventSchemas<E>;
  /**
   * Also check every event read (`readEvents`, `readAggregateStream`, projections) against its
   * type's schema, after upcasting; one that fails rejects the read with
   * `InvalidStoredEventError` (in a projection: `ProjectionError` with it as `cause`).
   * @default false
   */
  validateOnRead?: boolean;
  /**
   * Upcasters per event type and version: `upcasters[eventType][v]` turns a payload of version
   * `v` into version `v + 1`. On every read the upcasters of an event's type run from its stored
   * version on, one after the other, so handlers get the current shape; the event's
   * `eventVersion` then says the version it was upcast to. The stored event is never changed.
   * The current version of a type is one more than its highest upcaster's version, and appends
   * without `eventVersion` get it. Versions of one type must be consecutive.
   */
  upcasters?: EventUpcasters<E>;
}

/** A Standard Schema per event type of `E`, each producing that type's payload. */
export type EventSchemas<E extends object = DomainEvent> = {
  readonly [T in EventTypeOf<E>]?: StandardSchemaV1<unknown, PayloadOf<E, T>>;
};

/** Upcasters per event type of `E`, each keyed by the version it upcasts from. */
export type EventUpcasters<E extends object = DomainEvent> = {
  readonly [T in EventTypeOf<E>]?: { readonly [fromVersion: number]: Upcaster };
};

/**
 * Turns the payload of one version of an event type into the next version's. It gets the
 * payload as deserialized (type it as that old version's shape) and the event around it, whose
 * `eventVersion` is the version being upcast from. It must not change the event.
 */
export type Upcaster = (payload: any, event: UpcastEvent) => unknown;

/** What an {@link Upcaster} knows about the event besides its payload. */
export type UpcastEvent = Readonly<
  Pick<
    PersistedEvent,
    | 'boundedContext'
    | 'aggregateType'
    | 'aggregateId'
    | 'eventId'
    | 'eventType'
    | 'eventVersion'
    | 'metadata'
    | 'createdAt'
  >
>;

/** The upcasters of one event type, checked. */
interface TypeUpcasters {
  /** One more than the highest version upcast from. */
  readonly currentVersion: number;
  /** The upcaster from each version. */
  readonly steps: ReadonlyMap<number, Upcaster>;
}

/** {@link EventOptions} validated; `undefined` in resolved store options when none is set. */
export interface ResolvedEventOptions {
  /** The schema of each event type that has one; `null` when none has. */
  readonly schemas: ReadonlyMap<string, StandardSchemaV1> | null;
  /** Whether reads check payloads against the schemas. */
  readonly validateOnRead: boolean;
  /** The upcasters of each event type that has some; `null` when none has. */
  readonly upcasters: ReadonlyMap<string, TypeUpcasters> | null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return false;
  const props = (value as { '~standard'?: unknown })['~standard'];
  return (
    typeof props === 'object' &&
    props !== null &&
    (props as { version?: unknown }).version === 1 &&
    typeof (props as { validate?: unknown }).validate === 'function'
  );
}

/**
 * Validates the `events` option of a store.
 * @returns `undefined` when it configures nothing, so stores without it pay nothing.
 * @throws {InvalidConfigError} naming the first invalid part.
 */
export function resolveEventOptions(options: unknown): ResolvedEventOptions | undefined {
  if (options === undefined || options === null) return undefined;
  if (!isRecord(options)) {
    throw new InvalidConfigError('events', 'must be { schemas?, validateOnRead?, upcasters? }');
  }
  const { schemas, validateOnRead = false, upcasters } = options;
  if (typeof validateOnRead !== 'boolean') {
    throw new InvalidConfigError('events.validateOnRead', 'must be a boolean');
  }

  let resolvedSchemas: Map<string, StandardSchemaV1> | null = null;
  if (schemas !== undefined && schemas !== null) {
    if (!isRecord(schemas)) {
      throw new InvalidConfigError('events.schemas', 'must be an object keyed by event type');
    }
    for (const [eventType, schema] of Object.entries(schemas)) {
      if (schema === undefined) continue;
      checkEventType(eventType, 'events.schemas');
      if (!isStandardSchema(schema)) {
        throw new InvalidConfigError(
          `events.schemas.${eventType}`,
          'must be a Standard Schema (an object with ~standard.validate, version 1)',
        );
      }
      resolvedSchemas ??= new Map();
      resolvedSchemas.set(eventType, schema);
    }
  }

  let resolvedUpcasters: Map<string, TypeUpcasters> | null = null;
  if (upcasters !== undefined && upcasters !== null) {
    if (!isRecord(upcasters)) {
      throw new InvalidConfigError('events.upcasters', 'must be an object keyed by event type');
    }
    for (const [eventType, byVersion] of Object.entries(upcasters)) {
      if (byVersion === undefined) continue;
      checkEventType(eventType, 'events.upcasters');
      const typeUpcasters = resolveTypeUpcasters(eventType, byVersion);
      if (typeUpcasters === undefined) continue;
      resolvedUpcasters ??= new Map();
      resolvedUpcasters.set(eventType, typeUpcasters);
    }
  }

  if (resolvedSchemas === null && resolvedUpcasters === null) return undefined;
  return {
    schemas: resolvedSchemas,
    validateOnRead: validateOnRead && resolvedSchemas !== null,
    upcasters: resolvedUpcasters,
  };
}

function checkEventType(eventType: string, option: string): void {
  if (eventType.length === 0 || eventType.length > inputLimits.maxEventTypeLength) {
    throw new InvalidConfigError(
      option,
      `event types must have 1 to ${inputLimits.maxEventTypeLength} characters`,
    );
  }
}

function resolveTypeUpcasters(eventType: string, byVersion: unknown): TypeUpcasters | undefined {
  const option = `events.upcasters.${eventType}`;
  if (!isRecord(byVersion)) {
    throw new InvalidConfigError(option, 'must be an object of upcasters keyed by version');
  }
  const steps = new Map<number, Upcaster>();
  for (const [key, upcaster] of Object.entries(byVersion)) {
    const version = Number(key);
    if (
      !/^[1-9][0-9]*$/.test(key) ||
      !Number.isSafeInteger(version) ||
      version >= inputLimits.maxEventVersion
    ) {
      throw new InvalidConfigError(
        `${option}.${key}`,
        `versions must be integers from 1 to ${inputLimits.maxEventVersion - 1}`,
      );
    }
    if (typeof upcaster !== 'function') {
      throw new InvalidConfigError(`${option}.${key}`, 'must be a function');
    }
    steps.set(version, upcaster as Upcaster);
  }
  if (steps.size === 0) return undefined;
  const versions = [...steps.keys()].sort((a, b) => a - b);
  const first = versions[0]!;
  const last = versions[versions.length - 1]!;
  if (last - first + 1 !== versions.length) {
    throw new InvalidConfigError(
      option,
      `versions must be consecutive (got ${versions.join(', ')}): a gap would leave events at an old version`,
    );
  }
  return { currentVersion: last + 1, steps };
}

/** The version an appended event of `eventType` gets when it sets none. */
export function currentEventVersion(
  options: ResolvedEventOptions | undefined,
  eventType: string,
): number {
  return options?.upcasters?.get(eventType)?.currentVersion ?? 1;
}

/** Where a payload was when a schema, an upcaster or a validation failed. */
type Failure =
  | { kind: 'issues'; issues: readonly StandardSchemaV1.Issue[] }
  | { kind: 'threw'; what: string; cause: unknown };

/** Runs the upcasters of `event`'s type from `event.eventVersion` on, updating `event`. */
function upcast(
  upcasters: TypeUpcasters,
  event: { payload: unknown; eventVersion: number } & UpcastEvent,
): Failure | undefined {
  for (;;) {
    const step = upcasters.steps.get(event.eventVersion);
    if (step === undefined) return undefined;
    try {
      event.payload = step(event.payload, event);
    } catch (cause) {
      return {
        kind: 'threw',
        what: `its upcaster from version ${event.eventVersion}`,
        cause,
      };
    }
    event.eventVersion += 1;
  }
}

/** Checks `payload` against `schema`; a promise result is a configuration error. */
function check(schema: StandardSchemaV1, eventType: string, payload: unknown): Failure | undefined {
  let result: StandardSchemaV1.Result<unknown> | Promise<StandardSchemaV1.Result<unknown>>;
  try {
    result = schema['~standard'].validate(payload);
  } catch (cause) {
    return { kind: 'threw', what: 'its schema', cause };
  }
  if (typeof (result as Promise<unknown>)?.then === 'function') {
    (result as Promise<unknown>).then(undefined, () => undefined);
    throw new InvalidConfigError(
      `events.schemas.${eventType}`,
      'validates asynchronously; pup checks payloads synchronously, before anything is written',
    );
  }
  const issues = (result as StandardSchemaV1.Result<unknown>)?.issues;
  return issues === undefined ? undefined : { kind: 'issues', issues };
}

/** One line describing the issues of a failed validation. */
export function describeIssues(issues: readonly StandardSchemaV1.Issue[]): string {
  const first = issues[0];
  if (first === undefined) return 'the schema reported a failure without issues';
  const path = (first.path ?? [])
    .map((segment) => String(typeof segment === 'object' ? segment.key : segment))
    .join('.');
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
  return `${path === '' ? '' : `${path}: `}${first.message}${more}`;
}

function describeCause(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

/**
 * Checks the payload of event `index` of an append against its type's schema (after upcasting
 * a payload of an older version, on a copy: the payload is stored as given).
 * @throws {InvalidEventError} when it fails (field `payload`, with `eventType` and `issues`).
 * @throws {InvalidConfigError} when the schema validates asynchronously.
 */
export function validateAppendedPayload(
  options: ResolvedEventOptions,
  index: number,
  event: UpcastEvent & { payload: unknown },
): void {
  const schema = options.schemas?.get(event.eventType);
  if (schema === undefined) return;
  let payload = event.payload;
  const upcasters = options.upcasters?.get(event.eventType);
  if (upcasters?.steps.has(event.eventVersion)) {
    const copy = { ...event };
    const failure = upcast(upcasters, copy);
    if (failure !== undefined) throw appendFailure(index, event.eventType, failure);
    payload = copy.payload;
  }
  const failure = check(schema, event.eventType, payload);
  if (failure !== undefined) throw appendFailure(index, event.eventType, failure);
}

function appendFailure(index: number, eventType: string, failure: Failure): InvalidEventError {
  if (failure.kind === 'issues') {
    return new InvalidEventError(
      index,
      'payload',
      `does not match the schema of ${eventType}: ${describeIssues(failure.issues)}`,
      { eventType, issues: failure.issues },
    );
  }
  return new InvalidEventError(
    index,
    'payload',
    `${failure.what} of ${eventType} threw: ${describeCause(failure.cause)}`,
    { eventType, cause: failure.cause },
  );
}

/**
 * Brings a decoded event to its type's current shape (upcasters), then checks it against its
 * schema when `validateOnRead` is set. Changes `event` in place.
 * @throws {InvalidStoredEventError} when an upcaster throws or the payload fails the schema.
 * @throws {InvalidConfigError} when the schema validates asynchronously.
 */
export function applyReadRules(options: ResolvedEventOptions, event: PersistedEvent): void {
  const upcasters = options.upcasters?.get(event.eventType);
  if (upcasters !== undefined) {
    const failure = upcast(upcasters, event);
    if (failure !== undefined) throw readFailure(event, failure);
  }
  if (!options.validateOnRead) return;
  const schema = options.schemas?.get(event.eventType);
  if (schema === undefined) return;
  const failure = check(schema, event.eventType, event.payload);
  if (failure !== undefined) throw readFailure(event, failure);
}

function readFailure(event: PersistedEvent, failure: Failure): InvalidStoredEventError {
  if (failure.kind === 'issues') {
    return new InvalidStoredEventError(
      event,
      `does not match the schema of its type: ${describeIssues(failure.issues)}`,
      { issues: failure.issues },
    );
  }
  return new InvalidStoredEventError(
    event,
    `cannot be read: ${failure.what} threw: ${describeCause(failure.cause)}`,
    { cause: failure.cause },
  );
}
