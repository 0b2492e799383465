import type { Projection } from '@pup/core';
import type { ExampleDatabase, Total } from './database.js';
import { check, type ShopEvent, type ShopFacts } from './shop.js';

/**
 * `customer_revenue`: orders and revenue per customer, one row per customer, updated in the
 * projection's transaction. Rows are shared by many orders, so run it unpartitioned.
 */
export async function createCustomerRevenue(db: ExampleDatabase): Promise<void> {
  await db.ddl(`CREATE TABLE IF NOT EXISTS ${db.table('customer_revenue')} (
    customer VARCHAR(64) PRIMARY KEY,
    orders INTEGER NOT NULL,
    revenue INTEGER NOT NULL
  )`);
}

/** The projection feeding `customer_revenue`. */
export function customerRevenueProjection(
  db: ExampleDatabase,
  name = 'customer-revenue',
): Projection<unknown, ShopEvent> {
  const table = db.table('customer_revenue');
  return {
    name,
    aggregateTypes: ['Order'],
    async handle(event, { tx }) {
      if (event.eventType !== 'OrderPlaced') return;
      // Narrowed by the check above: { customer: string; amount: number }.
      const { customer, amount } = event.payload;
      await db.increment(tx, table, { customer }, { orders: 1, revenue: amount });
    },
  };
}

/** Reads `customer_revenue`, by customer. */
export function readCustomerRevenue(db: ExampleDatabase) {
  return db.query<{ customer: string; orders: number; revenue: number }>(
    null,
    `SELECT customer, orders, revenue FROM ${db.table('customer_revenue')} ORDER BY customer`,
  );
}

/** Checks `customer_revenue` against what was appended: every order counted exactly once. */
export async function checkCustomerRevenue(db: ExampleDatabase, facts: ShopFacts): Promise<void> {
  const rows = await readCustomerRevenue(db);
  check(rows.length === facts.revenue.size, 'one row per customer');
  for (const row of rows) {
    check(
      Number(row.revenue) === facts.revenue.get(row.customer),
      `revenue of ${row.customer}: ${row.revenue}, expected ${facts.revenue.get(row.customer)}`,
    );
  }
  const orders = rows.reduce((sum, row) => sum + Number(row.orders), 0);
  check(orders === facts.orders, `orders counted: ${orders}, expected ${facts.orders}`);
}

/**
 * `order_ledger`: one row per order, keyed by the order (the aggregate), so partitions never
 * touch the same row. A plain INSERT: a second delivery of an event would fail on the primary key.
 */
export async function createOrderLedger(db: ExampleDatabase): Promise<void> {
  await db.ddl(`CREATE TABLE IF NOT EXISTS ${db.table('order_ledger')} (
    order_id VARCHAR(64) PRIMARY KEY,
    customer VARCHAR(64) NOT NULL,
    amount INTEGER NOT NULL,
    shipped INTEGER NOT NULL DEFAULT 0,
    worker VARCHAR(64)
  )`);
}

/** The projection feeding `order_ledger`; `worker` is recorded on each row it inserts. */
export function orderLedgerProjection(
  db: ExampleDatabase,
  { name = 'order-ledger', worker = null }: { name?: string; worker?: string | null } = {},
): Projection<unknown, ShopEvent> {
  const table = db.table('order_ledger');
  return {
    name,
    aggregateTypes: ['Order'],
    async handle(event, { tx }) {
      if (event.eventType === 'OrderPlaced') {
        const { customer, amount } = event.payload;
        await db.exec(
          tx,
          `INSERT INTO ${table} (order_id, customer, amount, worker) VALUES ($1, $2, $3, $4)`,
          [event.aggregateId, customer, amount, worker],
        );
      } else if (event.eventType === 'OrderShipped') {
        await db.exec(tx, `UPDATE ${table} SET shipped = 1 WHERE order_id = $1`, [
          event.aggregateId,
        ]);
      }
    },
  };
}

/** Checks `order_ledger` against what was appended. */
export async function checkOrderLedger(db: ExampleDatabase, facts: ShopFacts): Promise<void> {
  const table = db.table('order_ledger');
  const [totals] = await db.query<{ orders: Total; shipped: Total }>(
    null,
    `SELECT COUNT(*) AS orders, COALESCE(SUM(shipped), 0) AS shipped FROM ${table}`,
  );
  check(
    Number(totals!.orders) === facts.orders,
    `ledger orders ${totals!.orders}, expected ${facts.orders}`,
  );
  check(
    Number(totals!.shipped) === facts.shipped,
    `shipped ${totals!.shipped}, expected ${facts.shipped}`,
  );
  const perCustomer = await db.query<{ customer: string; revenue: Total }>(
    null,
    `SELECT customer, SUM(amount) AS revenue FROM ${table} GROUP BY customer`,
  );
  for (const row of perCustomer) {
    check(
      Number(row.revenue) === facts.revenue.get(row.customer),
      `ledger revenue of ${row.customer}`,
    );
  }
}
