import type { EventStore } from '@pup/core';
import pg from 'pg';
import postgres from 'postgres';
import { describe, expectTypeOf, it } from 'vitest';
import { createPgEventStore, createPostgresJsEventStore } from '../src/index.js';

describe('types', () => {
  it('uses the driver’s own transaction handle as Tx', () => {
    const pool = new pg.Pool({ max: 1 });
    const pgStore = createPgEventStore(pool);
    expectTypeOf(pgStore).toMatchTypeOf<EventStore<pg.PoolClient>>();
    expectTypeOf<
      Parameters<Parameters<typeof pgStore.transaction>[0]>[0]
    >().toEqualTypeOf<pg.PoolClient>();

    const sql = postgres({ max: 1 });
    const jsStore = createPostgresJsEventStore(sql);
    expectTypeOf<
      Parameters<Parameters<typeof jsStore.transaction>[0]>[0]
    >().toEqualTypeOf<postgres.TransactionSql>();
    void pool.end();
    void sql.end();
  });
});
