// CI smoke test: runs every example on SQLite, then on PostgreSQL when DATABASE_URL or
// PUP_TEST_POSTGRES_URL names a server, then on MySQL / MariaDB when DATABASE_URL or
// PUP_TEST_MYSQL_URL names one (DATABASE_URL goes to the database its scheme names). Exits
// non-zero when any run fails; each run is stopped (with the processes it started) after
// RUN_TIMEOUT_MS.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type DatabaseKind, databaseKindOf } from './shared/database.js';

const RUN_TIMEOUT_MS = 120_000;
const here = dirname(fileURLToPath(import.meta.url));
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const examples = [
  'single-worker/main.ts',
  'multiple-projections/main.ts',
  'worker-pool/main.ts',
  'partitioned/launcher.ts',
  'scaling-workers/launcher.ts',
  'scoped-projections/main.ts',
  'stop-resume/main.ts',
  'with-logging/main.ts',
];

const databaseUrl = process.env.DATABASE_URL;
const urlFor = (kind: DatabaseKind, fallback: string | undefined) =>
  databaseUrl && databaseKindOf(databaseUrl) === kind ? databaseUrl : fallback;
const postgresUrl = urlFor('postgres', process.env.PUP_TEST_POSTGRES_URL);
const databases: {
  kind: string;
  url: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Only these examples (all when absent). */
  only?: string[];
}[] = [
  { kind: 'sqlite', url: undefined },
  { kind: 'postgres', url: postgresUrl },
  // The second PostgreSQL driver, for the examples whose workers start, stop and die at random.
  {
    kind: 'postgres.js',
    url: postgresUrl,
    env: { PUP_EXAMPLE_POSTGRES_DRIVER: 'postgres.js' },
    only: ['scaling-workers/launcher.ts', 'partitioned/launcher.ts'],
  },
  { kind: 'mysql', url: urlFor('mysql', process.env.PUP_TEST_MYSQL_URL) },
].filter((database) => database.kind === 'sqlite' || database.url);

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  output: string;
}

/** Runs one example in its own process group, so a timeout also stops the workers it started. */
function runExample(
  example: string,
  url: string | undefined,
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<RunResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extraEnv, LOG_LEVEL: 'info' };
  if (url) env.DATABASE_URL = url;
  else delete env.DATABASE_URL;
  const child = spawn(process.execPath, ['--import', tsx, join(here, example)], {
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const stop = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // The group has already exited.
    }
  };
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    stop();
  }, RUN_TIMEOUT_MS);
  // Ctrl-C or a CI cancel reaches this process only: take the example's group down with it.
  const interrupted = (signal: NodeJS.Signals) => {
    stop();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  return new Promise((resolve) => {
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      process.off('SIGINT', interrupted);
      process.off('SIGTERM', interrupted);
      resolve({ code, signal, timedOut, output });
    });
  });
}

let failed = 0;
const summary: string[] = [];
for (const database of databases) {
  const started = Date.now();
  for (const example of database.only ?? examples) {
    const exampleStarted = Date.now();
    const result = await runExample(example, database.url, database.env);
    const seconds = ((Date.now() - exampleStarted) / 1000).toFixed(1);
    if (result.code === 0) {
      console.log(`ok    ${database.kind.padEnd(11)} ${example} (${seconds}s)`);
      continue;
    }
    failed++;
    const why = result.timedOut
      ? `killed after ${RUN_TIMEOUT_MS / 1000}s`
      : `exit ${result.code ?? result.signal}`;
    console.log(`FAIL  ${database.kind.padEnd(11)} ${example} (${seconds}s, ${why})`);
    console.log(result.output);
  }
  summary.push(`${database.kind} ${((Date.now() - started) / 1000).toFixed(1)}s`);
}
console.log(`examples run on ${databases.length} database setup(s): ${summary.join(', ')}`);
if (failed > 0) {
  console.error(`${failed} example run(s) failed`);
  process.exit(1);
}
