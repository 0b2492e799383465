import type { DomainEvent, EventDataOf, EventUnion } from '../typed-events.js';
import type { StreamRef } from '../types.js';

/**
 * An aggregate's behaviour as three pure functions: the state before any event, how an event
 * changes the state, and which events a command produces in a state. Deciders need no database,
 * so they are tested with {@link deciderSpec}, and run against a store with `handleCommand`.
 *
 * @typeParam State The aggregate's state, rebuilt from its events.
 * @typeParam Command What `decide` accepts (typically a discriminated union).
 * @typeParam E The store's events (see `DomainEvent`).
 *
 * @example
 * const account: Decider<{ balance: number }, Withdraw, BankEvent> = {
 *   initialState: () => ({ balance: 0 }),
 *   evolve: (state, event) => {
 *     switch (event.eventType) {
 *       case 'MoneyDeposited': return { balance: state.balance + event.payload.amount };
 *       case 'MoneyWithdrawn': return { balance: state.balance - event.payload.amount };
 *       default: return state;
 *     }
 *   },
 *   decide: (command, state) => {
 *     if (command.amount > state.balance) throw new Error('insufficient funds');
 *     return [{ eventType: 'MoneyWithdrawn', payload: { amount: command.amount } }];
 *   },
 * };
 */
export interface Decider<State, Command, E extends object = DomainEvent> {
  /** The state of an aggregate that has no event yet; called once per command. */
  initialState(): State;
  /**
   * The state after `event`. It gets the event's `eventType` and `payload` (the command helper
   * passes the stored events, which carry more fields; rely on these two).
   */
  evolve(state: State, event: EventUnion<E>): State;
  /**
   * The events `command` produces in `state`, in order (none: nothing is appended). Throw to
   * refuse the command; `handleCommand` rejects with that very error.
   */
  decide(command: Command, state: State): EventDataOf<E> | readonly EventDataOf<E>[];
}

/**
 * A {@link Decider} with the stream its commands go to: a fixed stream, or one chosen from the
 * command (`(command) => ({ boundedContext, aggregateType, aggregateId: command.accountId })`).
 */
export interface CommandHandler<State, Command, E extends object = DomainEvent>
  extends Decider<State, Command, E> {
  /** The stream of the aggregate, or how to find it from the command. */
  stream: StreamRef | ((command: Command) => StreamRef);
}

/** The events `decide` returned, as a list. */
export function decidedEvents<E extends object>(
  decided: EventDataOf<E> | readonly EventDataOf<E>[],
): readonly EventDataOf<E>[] {
  return Array.isArray(decided) ? decided : [decided as EventDataOf<E>];
}

/** Folds `events` into `state` with `evolve`. */
export function foldEvents<State, E extends object>(
  decider: Pick<Decider<State, unknown, E>, 'evolve'>,
  state: State,
  events: Iterable<EventUnion<E>>,
): State {
  let current = state;
  for (const event of events) current = decider.evolve(current, event);
  return current;
}
