// README.md, "Typed events and commands", commands: a decider tested without a database with
// deciderSpec. Its assertions throw node:assert's AssertionError; the program also checks that a
// wrong expectation does fail. Needs no database.
import assert from 'node:assert/strict';
import { type Decider, deciderSpec } from '@pup/core';
import type { BankEvent } from '../getting-started/events.js';

class InsufficientFunds extends Error {
  constructor(
    readonly balance: number,
    readonly amount: number,
  ) {
    super(`cannot withdraw ${amount} from a balance of ${balance}`);
    this.name = 'InsufficientFunds';
  }
}

type AccountCommand = { type: 'Deposit'; amount: number } | { type: 'Withdraw'; amount: number };

const account: Decider<{ balance: number }, AccountCommand, BankEvent> = {
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
    if (command.type === 'Deposit') {
      return [{ eventType: 'MoneyDeposited', payload: { amount: command.amount } }];
    }
    if (command.amount > state.balance) throw new InsufficientFunds(state.balance, command.amount);
    return [{ eventType: 'MoneyWithdrawn', payload: { amount: command.amount } }];
  },
};

// #region decider-spec
const spec = deciderSpec(account);
spec
  .given([{ eventType: 'MoneyDeposited', payload: { amount: 100 } }])
  .when({ type: 'Withdraw', amount: 30 })
  .thenEvents([{ eventType: 'MoneyWithdrawn', payload: { amount: 30 } }]);
spec.given([]).when({ type: 'Withdraw', amount: 30 }).thenThrows(InsufficientFunds);
// #endregion decider-spec

// The state after the decision, and the error itself.
spec
  .given([{ eventType: 'MoneyDeposited', payload: { amount: 100 } }])
  .when({ type: 'Withdraw', amount: 30 })
  .thenState({ balance: 70 });
const refused = spec
  .given([{ eventType: 'MoneyDeposited', payload: { amount: 10 } }])
  .when({ type: 'Withdraw', amount: 30 })
  .thenThrows(InsufficientFunds);
assert.equal(refused.balance, 10);

// Wrong expectations fail: the spec does check.
assert.throws(
  () =>
    spec
      .given([{ eventType: 'MoneyDeposited', payload: { amount: 100 } }])
      .when({ type: 'Withdraw', amount: 30 })
      .thenEvents([{ eventType: 'MoneyWithdrawn', payload: { amount: 31 } }]),
  assert.AssertionError,
);
assert.throws(
  () => spec.given([]).when({ type: 'Deposit', amount: 30 }).thenThrows(InsufficientFunds),
  assert.AssertionError,
);
assert.throws(
  () => spec.given([]).when({ type: 'Withdraw', amount: 30 }).thenEvents([]),
  assert.AssertionError,
);
console.log('deciderSpec: 3 scenarios hold, 3 wrong expectations fail');
