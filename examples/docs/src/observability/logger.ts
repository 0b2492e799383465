// docs/observability.md, "The logger": pino wired to pup's Logger, given to the store and to a
// processor. Runs on SQLite in memory and checks the lines pup wrote.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ExpectedVersion, waitForProjection } from '@pup/core';
import { createSqliteEventStore } from '@pup/sqlite';
import Database from 'better-sqlite3';
import { account, type BankEvent } from '../getting-started/events.js';

// The program runs itself in a child process and checks the lines the child logs on stdout.
if (process.env.PUP_DOCS_LOGGER_CHILD === undefined) {
  const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
    env: { ...process.env, PUP_DOCS_LOGGER_CHILD: '1', LOG_LEVEL: 'info' },
    encoding: 'utf8',
  });
  if (child.status !== 0) throw new Error(`the child failed:\n${child.stdout}${child.stderr}`);
  const messages = child.stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => (JSON.parse(line) as { msg: string }).msg);
  for (const expected of [
    'Event store schema is up to date',
    'projection started',
    'projection stopped',
  ]) {
    if (!messages.includes(expected)) throw new Error(`no "${expected}" line in ${messages}`);
  }
  console.log(messages);
  process.exit(0);
}

// #region logger
import type { Logger } from '@pup/core';
import pino from 'pino';

const log = pino({
  level: process.env.LOG_LEVEL ?? 'info',
  serializers: { error: pino.stdSerializers.err }, // pup puts errors under `error`
});

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
