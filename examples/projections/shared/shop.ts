import {
  type DomainEvent,
  type EventStore,
  ExpectedVersion,
  getProjectionStatus,
  type NewEventOf,
} from '@pup/core';

/** The events of the shop's `sales` context: each event type with its payload. */
export type ShopEvent =
  | DomainEvent<'OrderPlaced', { customer: string; amount: number }>
  | DomainEvent<'OrderShipped', Record<string, never>>;

/** What the seeded shop log contains, to check a read model against. */
export interface ShopFacts {
  /** Events appended by this call. */
  events: number;
  /** Orders placed. */
  orders: number;
  /** Orders shipped. */
  shipped: number;
  /** Revenue per customer, in cents. */
  revenue: Map<string, number>;
}

const CUSTOMERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace'];

/**
 * Appends `orders` orders of the `sales` context (aggregate type `Order`): each gets an
 * `OrderPlaced` event, every other one an `OrderShipped` too. Fifty orders per transaction.
 */
export async function seedOrders(
  store: EventStore<any>,
  orders: number,
  { firstOrder = 1 }: { firstOrder?: number } = {},
): Promise<ShopFacts> {
  const facts: ShopFacts = { events: 0, orders, shipped: 0, revenue: new Map() };
  for (let start = 0; start < orders; start += 50) {
    await store.transaction(async (tx) => {
      for (let i = start; i < Math.min(orders, start + 50); i++) {
        const n = firstOrder + i;
        const customer = CUSTOMERS[n % CUSTOMERS.length]!;
        const amount = 500 + ((n * 37) % 5000);
        const order = {
          boundedContext: 'sales',
          aggregateType: 'Order',
          aggregateId: `order-${n}`,
        };
        const events: NewEventOf<ShopEvent>[] = [
          { ...order, eventType: 'OrderPlaced', payload: { customer, amount } },
        ];
        if (n % 2 === 0) {
          events.push({ ...order, eventType: 'OrderShipped', payload: {} });
          facts.shipped++;
        }
        await store.append(tx, ExpectedVersion.noStream(), events);
        facts.events += events.length;
        facts.revenue.set(customer, (facts.revenue.get(customer) ?? 0) + amount);
      }
    });
  }
  return facts;
}

/** Adds up the facts of several seeding calls. */
export function mergeFacts(...all: ShopFacts[]): ShopFacts {
  const merged: ShopFacts = { events: 0, orders: 0, shipped: 0, revenue: new Map() };
  for (const facts of all) {
    merged.events += facts.events;
    merged.orders += facts.orders;
    merged.shipped += facts.shipped;
    for (const [customer, cents] of facts.revenue) {
      merged.revenue.set(customer, (merged.revenue.get(customer) ?? 0) + cents);
    }
  }
  return merged;
}

/** Which projections (and how many partitions each) {@link runUntilCaughtUp} waits for. */
export interface CaughtUpTarget {
  name: string;
  totalPartitions?: number;
}

/**
 * Starts projections with `start(signal)` and stops them (aborts the signal) once
 * `getProjectionStatus` reports every target caught up with the log. Rejects when a projection
 * fails or `timeoutMs` passes.
 */
export async function runUntilCaughtUp(
  store: EventStore<any>,
  targets: readonly CaughtUpTarget[],
  start: (signal: AbortSignal) => Promise<void>,
  timeoutMs = 30_000,
): Promise<void> {
  const controller = new AbortController();
  const running = start(controller.signal);
  let settled = false;
  running.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  const deadline = Date.now() + timeoutMs;
  try {
    while (!settled) {
      const statuses = await Promise.all(
        targets.map((t) =>
          getProjectionStatus(store, t.name, { totalPartitions: t.totalPartitions }),
        ),
      );
      if (statuses.every((s) => s.caughtUp)) break;
      if (Date.now() > deadline) throw new Error(`not caught up within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    controller.abort();
  }
  await running;
}

/** Throws when `actual` differs from `expected`: the examples double as smoke tests. */
export function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(`check failed: ${message}`);
}

/** Formats cents as an amount. */
export const money = (cents: number) => (cents / 100).toFixed(2);
