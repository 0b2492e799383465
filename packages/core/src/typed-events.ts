import type { StandardSchemaV1 } from './standard-schema.js';
import type { NewEvent, PersistedEvent, StreamRef } from './types.js';

/**
 * One kind of event: its `eventType` and the shape of its `payload`. A discriminated union of
 * these describes every event a store holds, and is what the type parameter `E` of
 * `EventStore`, `Projection`, `ProjectionProcessor` and the command helpers takes (an
 * {@link EventMap} works too). The default, `DomainEvent` itself, is the untyped store: any
 * `eventType`, payloads `unknown`.
 *
 * @example
 * type BankEvent =
 *   | DomainEvent<'AccountOpened', { owner: string }>
 *   | DomainEvent<'MoneyDeposited', { amount: number }>;
 * // the same, written out:
 * type SameBankEvent =
 *   | { eventType: 'AccountOpened'; payload: { owner: string } }
 *   | { eventType: 'MoneyDeposited'; payload: { amount: number } };
 */
export interface DomainEvent<T extends string = string, P = unknown> {
  /** The event's type, such as `AccountOpened`. */
  eventType: T;
  /** The event's domain data. */
  payload: P;
}

/**
 * The events of a store as a map from `eventType` to payload type, the other way to describe
 * them (see {@link DomainEvent}).
 *
 * @example
 * interface BankEvents {
 *   AccountOpened: { owner: string };
 *   MoneyDeposited: { amount: number };
 * }
 * const store = createSqliteEventStore<BankEvents>(db);
 */
export type EventMap = { readonly [eventType: string]: unknown };

/**
 * The events `E` describes, as a union of {@link DomainEvent}s: `E` itself when it is such a
 * union, else one member per key of the {@link EventMap} `E`. A type without string keys
 * (`object`, which generic code sees) describes the untyped store, `DomainEvent`.
 */
export type EventUnion<E> = [E] extends [DomainEvent]
  ? E
  : [keyof E & string] extends [never]
    ? DomainEvent
    : { [T in keyof E & string]: DomainEvent<T, E[T]> }[keyof E & string];

/** The event types `E` describes (`string` for the untyped store). */
export type EventTypeOf<E> = EventUnion<E>['eventType'];

/** The payload type of the event type `T` in `E` (`unknown` for the untyped store). */
export type PayloadOf<E, T extends string> =
  EventUnion<E> extends infer U
    ? U extends DomainEvent
      ? T extends U['eventType']
        ? U['payload']
        : never
      : never
    : never;

/**
 * What `append` accepts for the events `E`: a {@link NewEvent} whose `eventType` and `payload`
 * are one known pair. `NewEvent` itself for the untyped store.
 */
export type NewEventOf<E> =
  EventUnion<E> extends infer U
    ? U extends DomainEvent
      ? NewEvent<U['payload'], U['eventType']>
      : never
    : never;

/**
 * What reads return for the events `E`: a {@link PersistedEvent} whose `payload` narrows when
 * `eventType` is checked (`switch (event.eventType)`). `PersistedEvent` itself for the untyped
 * store.
 */
export type PersistedEventOf<E> =
  EventUnion<E> extends infer U
    ? U extends DomainEvent
      ? PersistedEvent<U['payload'], U['eventType']>
      : never
    : never;

/**
 * An event of `E` to append, without its stream: what a decider's `decide` returns (the command
 * helper adds the stream). The optional fields of {@link NewEvent} (`eventId`, `metadata`, …)
 * may be set.
 */
export type EventDataOf<E> =
  EventUnion<E> extends infer U
    ? U extends DomainEvent
      ? Omit<NewEvent<U['payload'], U['eventType']>, keyof StreamRef>
      : never
    : never;

/**
 * The {@link EventMap} a record of Standard Schemas describes, for stores whose payload types
 * come from their schemas.
 *
 * @example
 * const schemas = { MoneyDeposited: z.object({ amount: z.number().positive() }) };
 * const store = createSqliteEventStore<EventMapOf<typeof schemas>>(db, { events: { schemas } });
 */
export type EventMapOf<Schemas extends { readonly [eventType: string]: StandardSchemaV1 }> = {
  [T in keyof Schemas & string]: StandardSchemaV1.InferOutput<Schemas[T]>;
};
