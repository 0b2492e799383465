// Projections that only care about some aggregate types or bounded contexts. Events outside their
// scope never reach `handle`, yet they still advance the checkpoint: every projection ends at
// the head of the log.
import {
  type DomainEvent,
  type EventStore,
  ExpectedVersion,
  getProjectionStatus,
  type NewEventOf,
  type Projection,
  ProjectionProcessor,
  runProjections,
} from '@pup/core';
import { openExampleDatabase } from '../shared/database.js';
import { check, runUntilCaughtUp, type ShopEvent, seedOrders } from '../shared/shop.js';

/** This example's log holds three bounded contexts: sales (the shop), support and billing. */
type SupportEvent =
  | DomainEvent<'TicketOpened', { subject: string }>
  | DomainEvent<'TicketClosed', Record<string, never>>;
type BillingEvent = DomainEvent<'InvoiceIssued', { amount: number }>;
type CompanyEvent = ShopEvent | SupportEvent | BillingEvent;

async function seedSupportAndBilling(store: EventStore<any, CompanyEvent>, count: number) {
  await store.transaction(async (tx) => {
    for (let i = 1; i <= count; i++) {
      const ticket = { boundedContext: 'support', aggregateType: 'Ticket', aggregateId: `t-${i}` };
      const events: NewEventOf<SupportEvent>[] = [
        { ...ticket, eventType: 'TicketOpened', payload: { subject: `question ${i}` } },
      ];
      if (i % 3 === 0) events.push({ ...ticket, eventType: 'TicketClosed', payload: {} });
      await store.append(tx, ExpectedVersion.noStream(), events);
      const invoice = {
        boundedContext: 'billing',
        aggregateType: 'Invoice',
        aggregateId: `inv-${i}`,
      };
      await store.append(tx, ExpectedVersion.noStream(), [
        { ...invoice, eventType: 'InvoiceIssued', payload: { amount: 1000 + i } },
      ]);
    }
  });
}

/** A projection that counts what it sees and fails loudly on anything out of its scope. */
function counting(
  name: string,
  scope: Pick<Projection, 'aggregateTypes' | 'boundedContexts'>,
): Projection & { seen: Map<string, number> } {
  const seen = new Map<string, number>();
  return {
    name,
    ...scope,
    seen,
    handle(event) {
      if (scope.aggregateTypes && !scope.aggregateTypes.includes(event.aggregateType)) {
        throw new Error(`${name} got a ${event.aggregateType} event`);
      }
      if (scope.boundedContexts && !scope.boundedContexts.includes(event.boundedContext)) {
        throw new Error(`${name} got an event of ${event.boundedContext}`);
      }
      seen.set(event.eventType, (seen.get(event.eventType) ?? 0) + 1);
    },
  };
}

const db = await openExampleDatabase<CompanyEvent>('scoped-projections', { reset: true });
try {
  const orders = await seedOrders(db.store, 100);
  await seedSupportAndBilling(db.store, 60);
  // The log ends with a billing event: outside the scope of two of the three projections.

  const support = counting('support-desk', { boundedContexts: ['support'] });
  const invoices = counting('billing-invoices', {
    boundedContexts: ['billing'],
    aggregateTypes: ['Invoice'],
  });
  const sales = counting('sales-orders', { aggregateTypes: ['Order'] });
  const projections = [support, invoices, sales];
  await runUntilCaughtUp(db.store, projections, (signal) =>
    runProjections(
      projections.map((projection) => ({
        projection,
        processor: new ProjectionProcessor(db.store),
      })),
      { signal },
    ),
  );

  for (const projection of projections) {
    const status = await getProjectionStatus(db.store, projection);
    console.log(
      `${projection.name.padEnd(16)} saw ${JSON.stringify(Object.fromEntries(projection.seen))}; checkpoint ${status.checkpoint} = head ${status.headCheckpoint}`,
    );
    check(status.checkpoint === status.headCheckpoint, `${projection.name} reached the head`);
  }
  check(
    support.seen.get('TicketOpened') === 60 && support.seen.get('TicketClosed') === 20,
    'tickets',
  );
  check(invoices.seen.get('InvoiceIssued') === 60 && invoices.seen.size === 1, 'invoices');
  check(sales.seen.get('OrderPlaced') === orders.orders, 'orders');
  console.log(`ok: each projection saw exactly its scope (${db.kind})`);
} finally {
  await db.close();
}
