import assert from 'node:assert/strict';
import type { DomainEvent, EventDataOf } from '../typed-events.js';
import { type Decider, decidedEvents, foldEvents } from './decider.js';

/** What a decider did with the command of a {@link deciderSpec} scenario. */
export type DecisionOutcome<State, E extends object> =
  | {
      readonly ok: true;
      /** The events `decide` returned, as a list. */
      readonly events: readonly EventDataOf<E>[];
      /** The state after the given events and then the decided ones. */
      readonly state: State;
    }
  | {
      readonly ok: false;
      /** What `decide` (or `evolve`) threw. */
      readonly error: unknown;
    };

/**
 * The "then" step of a {@link deciderSpec} scenario: assertions on the decision. (No method is
 * called `then`, so that `await` never mistakes the object for a promise.)
 */
export interface DecisionAssertions<State, E extends object> {
  /** What the decider did, for assertions of your own test framework. */
  readonly outcome: DecisionOutcome<State, E>;
  /**
   * Asserts that the command produced exactly these events (deep strict equality; `[]` for
   * none). Returns them.
   */
  thenEvents(expected: readonly EventDataOf<E>[]): readonly EventDataOf<E>[];
  /** Asserts that the state after the decided events deep-equals `expected`. Returns it. */
  thenState(expected: State): State;
  /**
   * Asserts that the command was refused: `decide` threw an instance of `expected` (a class),
   * or an error for which `expected` (a function) returns anything but `false`; any error when
   * `expected` is absent. Returns the error.
   */
  thenThrows<T = unknown>(
    expected?: (abstract new (...args: any[]) => T) | ((error: unknown) => boolean | undefined),
  ): T;
}

/** The `when` step of a {@link deciderSpec} scenario. */
export interface DecisionScenario<State, Command, E extends object> {
  /** Runs `decide` with `command` in the state the given events lead to. */
  when(command: Command): DecisionAssertions<State, E>;
}

/** A decider under test: start a scenario with `given`. */
export interface DeciderSpecification<State, Command, E extends object> {
  /** The aggregate's history (its events' `eventType` and `payload`), oldest first. */
  given(events: readonly EventDataOf<E>[]): DecisionScenario<State, Command, E>;
}

/**
 * Tests a {@link Decider} without a database, in given–when–then form: the given events are
 * folded into state with `evolve`, `decide` runs with the command, and the assertions compare
 * what it decided. Assertions throw `node:assert`'s `AssertionError`, which every test runner
 * reports (with a diff).
 *
 * @example
 * const spec = deciderSpec(account);
 * it('withdraws within the balance', () => {
 *   spec
 *     .given([{ eventType: 'MoneyDeposited', payload: { amount: 100 } }])
 *     .when({ type: 'Withdraw', amount: 30 })
 *     .thenEvents([{ eventType: 'MoneyWithdrawn', payload: { amount: 30 } }]);
 * });
 * it('refuses an overdraft', () => {
 *   spec.given([]).when({ type: 'Withdraw', amount: 30 }).thenThrows(InsufficientFunds);
 * });
 */
export function deciderSpec<State, Command, E extends object = DomainEvent>(
  decider: Decider<State, Command, E>,
): DeciderSpecification<State, Command, E> {
  return {
    given(events) {
      return {
        when(command) {
          return assertions(decide(decider, events, command));
        },
      };
    },
  };
}

function decide<State, Command, E extends object>(
  decider: Decider<State, Command, E>,
  given: readonly EventDataOf<E>[],
  command: Command,
): DecisionOutcome<State, E> {
  const untyped = decider as unknown as Decider<State, Command, DomainEvent>;
  const state = foldEvents(untyped, decider.initialState(), given);
  let events: readonly EventDataOf<E>[];
  try {
    events = decidedEvents<E>(decider.decide(command, state));
  } catch (error) {
    return { ok: false, error };
  }
  return { ok: true, events, state: foldEvents(untyped, state, events) };
}

function assertions<State, E extends object>(
  outcome: DecisionOutcome<State, E>,
): DecisionAssertions<State, E> {
  const decided = (what: string) => {
    if (!outcome.ok) {
      const error = outcome.error;
      assert.fail(
        `expected ${what}, but decide threw ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
      );
    }
    return outcome;
  };
  return {
    outcome,
    thenEvents(expected) {
      const { events } = decided('events');
      assert.deepStrictEqual(events, expected, 'the decided events');
      return events;
    },
    thenState(expected) {
      const { state } = decided('a state');
      assert.deepStrictEqual(state, expected, 'the state after the decided events');
      return state;
    },
    thenThrows<T>(
      expected?: (abstract new (...args: any[]) => T) | ((error: unknown) => boolean | undefined),
    ): T {
      if (outcome.ok) {
        assert.fail(`expected decide to throw, but it decided ${JSON.stringify(outcome.events)}`);
      }
      const { error } = outcome;
      if (expected !== undefined) {
        if (isClass(expected)) {
          assert.ok(
            error instanceof expected,
            `expected a ${expected.name}, got ${error instanceof Error ? error.name : String(error)}`,
          );
        } else {
          assert.ok(
            (expected as (error: unknown) => boolean | undefined)(error) !== false,
            'the thrown error did not pass the check',
          );
        }
      }
      return error as T;
    },
  };
}

function isClass(value: unknown): value is abstract new (...args: any[]) => unknown {
  return (
    typeof value === 'function' &&
    (value === Error ||
      (value as { prototype?: unknown }).prototype instanceof Error ||
      /^class[\s{]/.test(Function.prototype.toString.call(value)))
  );
}
