// The events of the getting-started guide (docs/getting-started.md), shared by its SQLite,
// PostgreSQL and MySQL programs.
// #region events
import type { Decider, DomainEvent } from '@pup/core';

// Each event type with the shape of its payload. Past tense: these are facts.
export type BankEvent =
  | DomainEvent<'AccountOpened', { owner: string }>
  | DomainEvent<'MoneyDeposited', { amount: number }>
  | DomainEvent<'MoneyWithdrawn', { amount: number }>;
// #endregion events

// #region stream
// One bank account is one stream, named by three strings.
export const account = (aggregateId: string) => ({
  boundedContext: 'banking',
  aggregateType: 'Account',
  aggregateId,
});
// #endregion stream

// #region decider
// A command and the aggregate's behaviour as three pure functions: no database involved.
export type Withdraw = { accountId: string; amount: number };

export const withdrawals: Decider<{ balance: number }, Withdraw, BankEvent> = {
  initialState: () => ({ balance: 0 }),
  evolve: (state, event) => {
    switch (event.eventType) {
      case 'MoneyDeposited':
        return { balance: state.balance + event.payload.amount };
      case 'MoneyWithdrawn':
        return { balance: state.balance - event.payload.amount };
      default:
        return state;
    }
  },
  decide: (command, state) => {
    if (command.amount > state.balance) throw new Error(`balance too low: ${state.balance}`);
    return [{ eventType: 'MoneyWithdrawn', payload: { amount: command.amount } }];
  },
};
// #endregion decider

/** Throws when `actual` is not `expected`: the programs check what they print. */
export function expectEqual(actual: unknown, expected: unknown, what: string): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}
