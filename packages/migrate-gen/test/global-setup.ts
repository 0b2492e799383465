import { existsSync } from 'node:fs';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { ensureBuilt } from '../../core/test/support/dist.js';
import { resolveTestDatabase } from '../../core/test/support/test-database.js';
import { packageRoot, workspacePackages } from './paths.js';

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
  ensureBuilt(
    packageRoot,
    ['index.js', 'index.cjs', 'index.d.ts', 'cli.js'],
    ['package.json', 'tsup.config.ts'],
  );
  // The environment's server, else the well-known local one; a run without one fails loudly.
  const postgres = await resolveTestDatabase({
    database: 'PostgreSQL',
    packageName: '@pup/migrate-gen',
    variable: POSTGRES_VARIABLE,
    localUrl: POSTGRES_DEFAULT_URL,
    answers: postgresAnswers,
  });
  const mysql = await resolveTestDatabase({
    database: 'MySQL or MariaDB',
    packageName: '@pup/migrate-gen',
    variable: MYSQL_VARIABLE,
    localUrl: MYSQL_DEFAULT_URL,
    answers: mysqlAnswers,
  });
  project.provide('postgresUrl', postgres.url);
  project.provide('mysqlUrl', mysql.url);
}
