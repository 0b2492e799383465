// Writer process of the fault tests: appends to the PostgreSQL schema it is given, through `pg`
// or postgres.js (PUP_WRITER_PG_DRIVER), until it is killed.
import type { EventStore } from '@pup/core';
import pg from 'pg';
import postgres from 'postgres';
import { runWriterWorker } from '../../core/test/support/writer-kill.js';
import { createPgEventStore, createPostgresJsEventStore } from '../src/index.js';

const url = process.env.PUP_WRITER_PG_URL;
const tables = process.env.PUP_WRITER_PG_TABLES;
if (!url || !tables) throw new Error('PUP_WRITER_PG_URL and PUP_WRITER_PG_TABLES must be set');
const options = { tables: JSON.parse(tables) };
const store: EventStore<any> =
  process.env.PUP_WRITER_PG_DRIVER === 'postgres.js'
    ? createPostgresJsEventStore(postgres(url, { max: 4, onnotice: () => {} }), options)
    : createPgEventStore(new pg.Pool({ connectionString: url, max: 4 }), options);
await runWriterWorker(store);
