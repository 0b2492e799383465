import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { packageRoot, requireHere, workspacePackages } from './paths.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the PostgreSQL server the tests create their schemas on. */
    postgresUrl: string;
    /** URL of the MySQL / MariaDB server the tests create their databases on. */
    mysqlUrl: string;
  }
}

const POSTGRES_VARIABLE = 'PUP_TEST_POSTGRES_URL';
const POSTGRES_DEFAULT_URL = 'postgres://postgres@127.0.0.1:5432/test';

async function postgresAnswers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** `PUP_TEST_POSTGRES_URL`, else the well-known local server; a run without one fails loudly. */
async function postgresUrl(): Promise<string> {
  const fromEnv = process.env[POSTGRES_VARIABLE];
  const url = fromEnv !== undefined && fromEnv !== '' ? fromEnv : POSTGRES_DEFAULT_URL;
  if (!(await postgresAnswers(url))) {
    throw new Error(
      `No PostgreSQL answers at ${url}: set ${POSTGRES_VARIABLE} to the URL of a server the @pup/migrate-gen tests may create schemas on`,
    );
  }
  return url;
}

/** Builds this package when a built file is missing or older than a source of it. */
function ensureBuilt(): void {
  const sources = [
    ...readdirSync(join(packageRoot, 'src')).map((file) => join(packageRoot, 'src', file)),
    join(packageRoot, 'package.json'),
    join(packageRoot, 'tsup.config.ts'),
  ];
  const newestSource = Math.max(...sources.map((file) => statSync(file).mtimeMs));
  const built = ['index.js', 'index.cjs', 'index.d.ts', 'cli.js'].map((file) =>
    join(packageRoot, 'dist', file),
  );
  if (built.every((file) => existsSync(file) && statSync(file).mtimeMs >= newestSource)) return;
  try {
    execFileSync(process.execPath, [requireHere.resolve('tsup/dist/cli-default.js')], {
      cwd: packageRoot,
      encoding: 'utf8',
      stdio: 'pipe',
    });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`Building @pup/migrate-gen failed:\n${stdout ?? ''}${stderr ?? ''}`);
  }
}

const MYSQL_VARIABLE = 'PUP_TEST_MYSQL_URL';
const MYSQL_DEFAULT_URL = 'mysql://root@127.0.0.1:3306/test';

async function mysqlAnswers(url: string): Promise<boolean> {
  let connection: mysql.Connection | undefined;
  try {
    connection = await mysql.createConnection({ uri: url, connectTimeout: 3_000 });
    await connection.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await connection?.end().catch(() => {});
  }
}

/** `PUP_TEST_MYSQL_URL`, else the well-known local server; a run without one fails loudly. */
async function mysqlUrl(): Promise<string> {
  const fromEnv = process.env[MYSQL_VARIABLE];
  const url = fromEnv !== undefined && fromEnv !== '' ? fromEnv : MYSQL_DEFAULT_URL;
  if (!(await mysqlAnswers(url))) {
    throw new Error(
      `No MySQL or MariaDB answers at ${url}: set ${MYSQL_VARIABLE} to the URL of a server the @pup/migrate-gen tests may create databases on`,
    );
  }
  return url;
}

/**
 * Builds this package (its tests run the built command; turbo builds only the dependencies
 * first), checks that the adapters are built, and resolves the test databases.
 */
export default async function setup(project: TestProject): Promise<void> {
  for (const name of workspacePackages.filter((p) => p !== 'migrate-gen')) {
    if (!existsSync(join(packageRoot, '..', name, 'dist', 'index.js'))) {
      throw new Error(
        `packages/${name} is not built: run \`npx -y pnpm@10.34.8 build\` (or \`npx tsup\` in it) first`,
      );
    }
  }
  ensureBuilt();
  project.provide('postgresUrl', await postgresUrl());
  project.provide('mysqlUrl', await mysqlUrl());
}
