import { InvalidConfigError } from './errors.js';
import {
  type EventOptions,
  type ResolvedEventOptions,
  resolveEventOptions,
} from './event-options.js';
import type { Logger } from './logger.js';
import { jsonSerializer, type Serializer } from './serializer.js';
import { resolveTableNames } from './table-names.js';
import type { DomainEvent } from './typed-events.js';
import type { TableNames } from './types.js';

/**
 * Options every adapter's factory accepts. `E` describes the store's events (see
 * `DomainEvent`), so that `events.schemas` and `events.upcasters` are checked against it.
 */
export interface EventStoreOptions<E extends object = DomainEvent> {
  /** Table names, each optionally schema-qualified. @default events, aggregate_heads, projection_checkpoints */
  tables?: Partial<TableNames>;
  /** Payload serializer. @default jsonSerializer */
  serializer?: Serializer;
  /** Where the store logs; nothing is logged without one. */
  logger?: Logger;
  /**
   * Run-time rules for payloads per event type: Standard Schemas checked on append (and on read
   * with `validateOnRead`), and upcasters applied on read. None by default, at no cost.
   */
  events?: EventOptions<E>;
}

/** {@link EventStoreOptions} with defaults filled in and every value validated. */
export interface ResolvedEventStoreOptions {
  tables: TableNames;
  serializer: Serializer;
  logger: Logger | undefined;
  /** The `events` option, checked; absent or `undefined` when it configures nothing. */
  events?: ResolvedEventOptions | undefined;
}

/**
 * Validates an adapter's options and fills in defaults; adapters call it first, before any SQL.
 * @throws {InvalidConfigError} on an invalid table name, serializer, logger or `events` option.
 */
export function resolveEventStoreOptions<E extends object = DomainEvent>(
  options: EventStoreOptions<E> | undefined | null,
): ResolvedEventStoreOptions {
  if (options !== undefined && options !== null && typeof options !== 'object') {
    throw new InvalidConfigError('options', 'must be an object');
  }
  const tables = resolveTableNames(options?.tables);
  const serializer = options?.serializer ?? jsonSerializer;
  if (typeof serializer?.serialize !== 'function' || typeof serializer.deserialize !== 'function') {
    throw new InvalidConfigError('serializer', 'must have serialize and deserialize functions');
  }
  const logger = options?.logger;
  if (
    logger !== undefined &&
    (typeof logger !== 'object' ||
      logger === null ||
      !['debug', 'info', 'warn', 'error'].every(
        (level) => typeof (logger as unknown as Record<string, unknown>)[level] === 'function',
      ))
  ) {
    throw new InvalidConfigError('logger', 'must have debug, info, warn and error functions');
  }
  const events = resolveEventOptions(options?.events);
  return { tables, serializer, logger, events };
}
