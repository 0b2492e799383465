// CI smoke test: runs every example and fails on the first error. Examples run on SQLite, and on
// PostgreSQL too when DATABASE_URL (or PUP_TEST_POSTGRES_URL, as in CI) names a server.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const examples = [
  'single-worker/main.ts',
  'multiple-projections/main.ts',
  'worker-pool/main.ts',
  'partitioned/launcher.ts',
  'scoped-projections/main.ts',
  'stop-resume/main.ts',
  'with-logging/main.ts',
];
const postgresUrl = process.env.DATABASE_URL ?? process.env.PUP_TEST_POSTGRES_URL;
const databases: { name: string; url: string | undefined }[] = [{ name: 'sqlite', url: undefined }];
if (postgresUrl) databases.push({ name: 'postgres', url: postgresUrl });

let failed = 0;
for (const database of databases) {
  for (const example of examples) {
    const started = Date.now();
    const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'info' };
    if (database.url) env.DATABASE_URL = database.url;
    else delete env.DATABASE_URL;
    const result = spawnSync(process.execPath, ['--import', tsx, join(here, example)], {
      env,
      encoding: 'utf8',
      timeout: 120_000,
    });
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    if (result.status === 0) {
      console.log(`ok    ${database.name.padEnd(8)} ${example} (${seconds}s)`);
    } else {
      failed++;
      console.log(
        `FAIL  ${database.name.padEnd(8)} ${example} (${seconds}s, exit ${result.status ?? result.signal})`,
      );
      console.log(result.stdout, result.stderr, result.error ?? '');
    }
  }
}
if (failed > 0) {
  console.error(`${failed} example run(s) failed`);
  process.exit(1);
}
