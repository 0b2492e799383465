// The docs package's test: runs every program whose code the documentation shows. SQLite programs
// always run; PostgreSQL programs run against PUP_TEST_POSTGRES_URL and MySQL programs against
// PUP_TEST_MYSQL_URL, each in a scratch schema or database of its own (created, passed to the
// program as DATABASE_URL, dropped afterwards). A program without its database is reported as
// not run, naming the variable; the run fails when any program fails.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import mysql from 'mysql2/promise';
import pg from 'pg';

type Database = 'sqlite' | 'postgres' | 'mysql';

const programs: { file: string; databases: Database[] }[] = [
  { file: 'src/getting-started/sqlite.ts', databases: ['sqlite'] },
  { file: 'src/getting-started/postgres.ts', databases: ['postgres'] },
  { file: 'src/getting-started/postgres-js.ts', databases: ['postgres'] },
  { file: 'src/getting-started/mysql.ts', databases: ['mysql'] },
  { file: 'src/concepts/transactions.ts', databases: ['sqlite'] },
  { file: 'src/adapters/own-transaction-sqlite.ts', databases: ['sqlite'] },
  { file: 'src/adapters/own-transaction-pg.ts', databases: ['postgres'] },
  { file: 'src/adapters/own-transaction-mysql.ts', databases: ['mysql'] },
  { file: 'src/adapters/copy-log.ts', databases: ['sqlite', 'postgres', 'mysql'] },
  { file: 'src/projections/order-totals.ts', databases: ['sqlite'] },
  { file: 'src/observability/logger.ts', databases: ['sqlite'] },
  { file: 'src/operations/migrate.ts', databases: ['sqlite'] },
  { file: 'src/operations/generate-migration.ts', databases: ['sqlite'] },
  { file: 'src/operations/backup-sqlite.ts', databases: ['sqlite'] },
  { file: 'src/operations/monitor.ts', databases: ['sqlite', 'postgres', 'mysql'] },
  { file: 'src/operations/hold-back.ts', databases: ['postgres'] },
  { file: 'src/troubleshooting/append-once.ts', databases: ['sqlite', 'postgres', 'mysql'] },
  { file: 'src/troubleshooting/retry-transient.ts', databases: ['sqlite'] },
  { file: 'src/troubleshooting/version-order.ts', databases: ['sqlite'] },
  { file: 'src/readme/typed-events.ts', databases: ['sqlite'] },
  { file: 'src/readme/schemas.ts', databases: ['sqlite'] },
  { file: 'src/readme/upcasters.ts', databases: ['sqlite', 'postgres', 'mysql'] },
  { file: 'src/readme/decider-spec.ts', databases: ['sqlite'] },
  { file: 'src/readme/projection-worker.ts', databases: ['sqlite', 'postgres', 'mysql'] },
  { file: 'src/readme/retry-same-ids.ts', databases: ['sqlite', 'postgres', 'mysql'] },
];

const RUN_TIMEOUT_MS = 60_000;
const here = dirname(fileURLToPath(import.meta.url));
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const servers: Record<
  Exclude<Database, 'sqlite'>,
  { variable: string; url: string | undefined }
> = {
  postgres: { variable: 'PUP_TEST_POSTGRES_URL', url: process.env.PUP_TEST_POSTGRES_URL },
  mysql: { variable: 'PUP_TEST_MYSQL_URL', url: process.env.PUP_TEST_MYSQL_URL },
};

/** A scratch schema (PostgreSQL) or database (MySQL) and the URL that makes it the default. */
interface Scratch {
  url: string;
  drop(): Promise<void>;
}

async function scratchPostgres(base: string, name: string): Promise<Scratch> {
  const pool = new pg.Pool({ connectionString: base, max: 1 });
  await pool.query(`CREATE SCHEMA ${name}`);
  const url = new URL(base);
  url.searchParams.set('options', `-c search_path=${name}`);
  return {
    url: url.href,
    async drop() {
      await pool.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
      await pool.end();
    },
  };
}

async function scratchMysql(base: string, name: string): Promise<Scratch> {
  const pool = mysql.createPool({ uri: base, connectionLimit: 1 });
  await pool.query(`CREATE DATABASE ${name}`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.href,
    async drop() {
      await pool.query(`DROP DATABASE IF EXISTS ${name}`);
      await pool.end();
    },
  };
}

/** Runs one program in its own process group; kills the group after RUN_TIMEOUT_MS. */
function run(
  file: string,
  databaseUrl: string | undefined,
): Promise<{ ok: boolean; output: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (databaseUrl === undefined) delete env.DATABASE_URL;
  else env.DATABASE_URL = databaseUrl;
  const child = spawn(process.execPath, ['--import', tsx, join(here, file)], {
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }, RUN_TIMEOUT_MS);
  return new Promise((resolve) => {
    child.once('close', (code) => {
      clearTimeout(timer);
      if (timedOut) output += `\n(stopped after ${RUN_TIMEOUT_MS} ms)`;
      resolve({ ok: code === 0 && !timedOut, output });
    });
  });
}

const failed: string[] = [];
const notRun: string[] = [];
let runs = 0;
for (const { file, databases } of programs) {
  for (const database of databases) {
    let scratch: Scratch | undefined;
    if (database !== 'sqlite') {
      const server = servers[database];
      if (server.url === undefined) {
        notRun.push(`${file} on ${database} (set ${server.variable})`);
        continue;
      }
      const name = `pup_docs_${randomBytes(6).toString('hex')}`;
      scratch =
        database === 'postgres'
          ? await scratchPostgres(server.url, name)
          : await scratchMysql(server.url, name);
    }
    const started = performance.now();
    const result = await run(file, scratch?.url);
    await scratch?.drop();
    runs++;
    const ms = Math.round(performance.now() - started);
    if (result.ok) {
      console.log(`ok    ${file} (${database}, ${ms} ms)`);
    } else {
      failed.push(`${file} (${database})`);
      console.log(
        `FAIL  ${file} (${database}, ${ms} ms)\n${result.output.replace(/^/gm, '      ')}`,
      );
    }
  }
}

for (const program of notRun) console.log(`not run: ${program}`);
if (failed.length > 0) {
  console.error(
    `${failed.length} of ${runs} documentation program runs failed: ${failed.join(', ')}`,
  );
  process.exit(1);
}
console.log(`${runs} documentation program runs passed`);
