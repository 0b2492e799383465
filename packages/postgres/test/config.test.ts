import { InvalidConfigError } from '@pup/core';
import { describe, expect, it } from 'vitest';
import {
  createPgEventStore,
  createPostgresJsEventStore,
  type PgPool,
  type PostgresJsSql,
  postgresSchemaSql,
} from '../src/index.js';

/** A pool and a postgres.js instance that fail the test if anything runs SQL on them. */
function untouchable() {
  const calls: string[] = [];
  const fail = (what: string) => () => {
    calls.push(what);
    throw new Error(`${what} must not be called`);
  };
  const pool = { connect: fail('pool.connect'), query: fail('pool.query') } as unknown as PgPool;
  const sql = Object.assign(fail('sql``'), {
    unsafe: fail('sql.unsafe'),
    begin: fail('sql.begin'),
    listen: fail('sql.listen'),
  }) as unknown as PostgresJsSql;
  return { pool, sql, calls };
}

const INVALID_NAMES = [
  'events; DROP TABLE x',
  'a.b.c',
  '',
  'my-events',
  '1events',
  '"events"',
  'e'.repeat(64),
  'évents',
];

describe('configuration is validated before any SQL runs', () => {
  for (const [name, create] of [
    ['pg', (o: object) => createPgEventStore(untouchable().pool, o)],
    ['postgres.js', (o: object) => createPostgresJsEventStore(untouchable().sql, o)],
  ] as const) {
    it(`${name}: invalid table names, options and drivers → InvalidConfigError`, () => {
      const { pool, sql, calls } = untouchable();
      for (const key of ['events', 'aggregateHeads', 'checkpoints']) {
        for (const bad of INVALID_NAMES) {
          expect(() => create({ tables: { [key]: bad } })).toThrow(InvalidConfigError);
        }
      }
      expect(() => create({ tables: { events: 'same', checkpoints: 'same' } })).toThrow(
        InvalidConfigError,
      );
      for (const options of [
        { notify: 'yes' },
        { holdBackWarningMs: 0 },
        { holdBackWarningMs: Number.NaN },
      ]) {
        const error = (() => {
          try {
            create(options);
          } catch (e) {
            return e;
          }
        })() as InvalidConfigError;
        expect(error).toBeInstanceOf(InvalidConfigError);
        expect(error.code).toBe('INVALID_CONFIG');
        expect(error.option).toBe(Object.keys(options)[0]);
      }
      expect(() => createPgEventStore(null as never)).toThrow(InvalidConfigError);
      expect(() => createPostgresJsEventStore({} as never)).toThrow(InvalidConfigError);
      // Valid options create a store without a single call to the driver.
      createPgEventStore(pool, { tables: { events: 'app.events' } });
      createPostgresJsEventStore(sql, { tables: { events: 'app.events' } });
      expect(calls).toEqual([]);
    });
  }

  it('postgresSchemaSql validates the same way', () => {
    for (const bad of INVALID_NAMES) {
      expect(() => postgresSchemaSql({ events: bad })).toThrow(InvalidConfigError);
    }
  });
});

describe('postgresSchemaSql', () => {
  it('quotes schema-qualified, mixed-case names and derives constraint names from them', () => {
    const sql = postgresSchemaSql({
      events: 'app.Events',
      aggregateHeads: 'app.heads',
      checkpoints: 'cp',
    });
    expect(sql).toContain('CREATE TABLE IF NOT EXISTS "app"."Events" (');
    expect(sql).toContain('CREATE TABLE IF NOT EXISTS "app"."heads" (');
    expect(sql).toContain('CREATE TABLE IF NOT EXISTS "cp" (');
    expect(sql).toContain('CONSTRAINT "Events_event_id_key" UNIQUE (event_id)');
    expect(sql).toContain('ON "app"."Events" (transaction_id, global_position)');
    expect(sql).toContain('transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id()');
    expect(postgresSchemaSql()).toBe(postgresSchemaSql({}));
  });

  it('keeps derived names within 63 characters', () => {
    const long = 'e'.repeat(63);
    const sql = postgresSchemaSql({ events: long });
    for (const [, name] of sql.matchAll(/CONSTRAINT "([^"]+)"/g)) {
      expect(name!.length).toBeLessThanOrEqual(63);
    }
  });
});
