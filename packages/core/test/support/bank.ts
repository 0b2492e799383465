// A small bank domain for the typed-event, command and iteration tests.
import type { Decider, DomainEvent, EventDataOf, StreamRef } from '../../src/index.js';

/** The bank's events as a discriminated union. */
export type BankEvent =
  | DomainEvent<'AccountOpened', { owner: string }>
  | DomainEvent<'MoneyDeposited', { amount: number }>
  | DomainEvent<'MoneyWithdrawn', { amount: number }>
  | DomainEvent<'AccountClosed', { reason?: string }>;

/** The same events as an event map. */
export interface BankEvents {
  AccountOpened: { owner: string };
  MoneyDeposited: { amount: number };
  MoneyWithdrawn: { amount: number };
  AccountClosed: { reason?: string };
}

export type BankCommand =
  | { type: 'Open'; owner: string }
  | { type: 'Deposit'; amount: number }
  | { type: 'Withdraw'; amount: number }
  | { type: 'Close' };

export interface Account {
  open: boolean;
  closed: boolean;
  balance: number;
}

export class InsufficientFunds extends Error {
  constructor(
    readonly balance: number,
    readonly requested: number,
  ) {
    super(`balance ${balance} is less than ${requested}`);
    this.name = 'InsufficientFunds';
  }
}

export class AccountNotOpen extends Error {
  override name = 'AccountNotOpen';
}

export const account: Decider<Account, BankCommand, BankEvent> = {
  initialState: () => ({ open: false, closed: false, balance: 0 }),
  evolve(state, event) {
    switch (event.eventType) {
      case 'AccountOpened':
        return { ...state, open: true };
      case 'MoneyDeposited':
        return { ...state, balance: state.balance + event.payload.amount };
      case 'MoneyWithdrawn':
        return { ...state, balance: state.balance - event.payload.amount };
      case 'AccountClosed':
        return { ...state, closed: true };
    }
  },
  decide(command, state) {
    if (command.type === 'Open') {
      if (state.open) return [];
      return { eventType: 'AccountOpened', payload: { owner: command.owner } };
    }
    if (!state.open || state.closed) throw new AccountNotOpen('the account is not open');
    switch (command.type) {
      case 'Deposit':
        return [{ eventType: 'MoneyDeposited', payload: { amount: command.amount } }];
      case 'Withdraw':
        if (command.amount > state.balance) {
          throw new InsufficientFunds(state.balance, command.amount);
        }
        return [{ eventType: 'MoneyWithdrawn', payload: { amount: command.amount } }];
      case 'Close': {
        const events: EventDataOf<BankEvent>[] = [];
        if (state.balance > 0) {
          events.push({ eventType: 'MoneyWithdrawn', payload: { amount: state.balance } });
        }
        events.push({ eventType: 'AccountClosed', payload: {} });
        return events;
      }
    }
  },
};

let next = 0;

/** The stream of a fresh account. */
export function accountStream(id = `acc-${++next}-${Math.random().toString(36).slice(2)}`) {
  return {
    boundedContext: 'banking',
    aggregateType: 'Account',
    aggregateId: id,
  } satisfies StreamRef;
}
