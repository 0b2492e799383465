import mysql from 'mysql2/promise';
import type { TestProject } from 'vitest/node';
import { resolveTestDatabase } from '../../core/test/support/test-database.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Connection URL of the MySQL / MariaDB server the tests use. */
    mysqlUrl: string;
  }
}

const LOCAL_DEFAULT_URL = 'mysql://root@127.0.0.1:3306/test';
const CONTAINER_IMAGE = 'mysql:8.4';

async function answers(url: string): Promise<boolean> {
  let connection: mysql.Connection | undefined;
  try {
    connection = await mysql.createConnection({ uri: url, connectTimeout: 2_000 });
    await connection.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await connection?.end().catch(() => {});
  }
}

/**
 * Resolves the database of the test run: `PUP_TEST_MYSQL_URL` when set; else a testcontainers
 * MySQL 8 when a container runtime answers; else the local default server when it answers; else
 * the run fails naming the variable. Never a silent skip. The user of the URL must be allowed to
 * create and drop databases.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const database = await resolveTestDatabase({
    database: 'MySQL',
    packageName: '@pup/mysql',
    variable: 'PUP_TEST_MYSQL_URL',
    localUrl: LOCAL_DEFAULT_URL,
    answers,
    container: {
      loadRuntimeProbe: () => import('testcontainers'),
      async start() {
        const { MySqlContainer } = await import('@testcontainers/mysql');
        const container = await new MySqlContainer(CONTAINER_IMAGE).withRootPassword('pup').start();
        return {
          url: `mysql://root:pup@${container.getHost()}:${container.getPort()}/${container.getDatabase()}`,
          stop: async () => void (await container.stop()),
        };
      },
    },
  });
  project.provide('mysqlUrl', database.url);
  return database.stop;
}
