// docs/observability.md, "The logger": pino wired to pup's Logger, given to the store and to a
// processor. Runs on SQLite in memory and checks the lines pup wrote.
import { ExpectedVersion, waitForProjection } from '@pup/core';
import { createSqliteEventStore } from '@pup/sqlite';
import Database from 'better-sqlite3';
import { account, type BankEvent } from '../getting-started/events.js';

const lines: { msg: string; level: number }[] = [];
const destination = { write: (line: string) => lines.push(JSON.parse(line)) };

// #region logger
import type { Logger } from '@pup/core';
import pino from 'pino';

const log = pino(
  {
    level: process.env.LOG_LEVEL ?? 'info',
    serializers: { error: pino.stdSerializers.err }, // pup puts errors under `error`
  },
  destination, // omit to log to stdout
);

// pino takes the fields first, then the message.
const logger: Logger = {
  debug: (message, fields) => log.debug(fields ?? {}, message),
  info: (message, fields) => log.info(fields ?? {}, message),
  warn: (message, fields) => log.warn(fields ?? {}, message),
  error: (message, fields) => log.error(fields ?? {}, message),
};

// #endregion logger

// #region wire
import { ProjectionProcessor } from '@pup/core';

const db = new Database(':memory:');
const store = createSqliteEventStore<BankEvent, Database.Database>(db, { logger }); // store lines
await store.migrate();
const processor = new ProjectionProcessor(store, { logger }); // projection lines
// #endregion wire

const controller = new AbortController();
const running = processor.run({ name: 'audit', handle() {} }, { signal: controller.signal });
const appended = await store.appendToStream(ExpectedVersion.noStream(), [
  { ...account('gina'), eventType: 'AccountOpened', payload: { owner: 'Gina' } },
]);
await waitForProjection(store, 'audit', appended, { timeoutMs: 5_000 });
controller.abort();
await running;
await store.close();
db.close();

for (const expected of [
  'Event store schema is up to date',
  'projection started',
  'projection stopped',
]) {
  if (!lines.some((line) => line.msg === expected)) {
    throw new Error(`no "${expected}" line in ${JSON.stringify(lines)}`);
  }
}
console.log(lines.map((line) => line.msg));
