import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { resolveTestDatabase } from '../../core/test/support/test-database.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Connection URL of the PostgreSQL server the tests use. */
    postgresUrl: string;
  }
}

const LOCAL_DEFAULT_URL = 'postgres://postgres@127.0.0.1:5432/test';
const CONTAINER_IMAGE = 'postgres:15-alpine';

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
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

/**
 * Resolves the database of the test run: `PUP_TEST_POSTGRES_URL` when set; else a
 * testcontainers PostgreSQL when a container runtime answers; else the local default server when it
 * answers; else the run fails naming the variable. Never a silent skip.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const database = await resolveTestDatabase({
    database: 'PostgreSQL',
    packageName: '@pup/postgres',
    variable: 'PUP_TEST_POSTGRES_URL',
    localUrl: LOCAL_DEFAULT_URL,
    answers,
    container: {
      loadRuntimeProbe: () => import('testcontainers'),
      async start() {
        const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
        const container = await new PostgreSqlContainer(CONTAINER_IMAGE).start();
        return {
          url: container.getConnectionUri(),
          stop: async () => void (await container.stop()),
        };
      },
    },
  });
  project.provide('postgresUrl', database.url);
  return database.stop;
}
