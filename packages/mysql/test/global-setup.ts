import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import type { TestProject } from 'vitest/node';

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

/** Cheap signs that a container runtime may be configured, checked before loading testcontainers. */
function containerRuntimeHinted(): boolean {
  return (
    process.env.DOCKER_HOST !== undefined ||
    process.env.TESTCONTAINERS_HOST_OVERRIDE !== undefined ||
    existsSync('/var/run/docker.sock') ||
    existsSync(join(homedir(), '.docker', 'run', 'docker.sock')) ||
    existsSync(join(homedir(), '.testcontainers.properties')) ||
    (process.env.XDG_RUNTIME_DIR !== undefined &&
      (existsSync(join(process.env.XDG_RUNTIME_DIR, 'docker.sock')) ||
        existsSync(join(process.env.XDG_RUNTIME_DIR, 'podman', 'podman.sock'))))
  );
}

async function containerRuntimeAnswers(): Promise<boolean> {
  if (!containerRuntimeHinted()) return false;
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('container runtime probe timed out')), 5_000);
    });
    try {
      await Promise.race([getContainerRuntimeClient(), timeout]);
    } finally {
      clearTimeout(timer);
    }
    return true;
  } catch {
    return false;
  }
}

/**
 * Resolves the database of the test run (SPEC §5): `PUP_TEST_MYSQL_URL` when set; else a
 * testcontainers MySQL 8 when a container runtime answers; else the local default server when it
 * answers; else the run fails naming the variable. Never a silent skip. The user of the URL must
 * be allowed to create and drop databases.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const fromEnv = process.env.PUP_TEST_MYSQL_URL;
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!(await answers(fromEnv))) {
      throw new Error('PUP_TEST_MYSQL_URL is set but MySQL does not answer at it');
    }
    project.provide('mysqlUrl', fromEnv);
    return async () => {};
  }

  if (await containerRuntimeAnswers()) {
    const { MySqlContainer } = await import('@testcontainers/mysql');
    const container = await new MySqlContainer(CONTAINER_IMAGE).withRootPassword('pup').start();
    project.provide(
      'mysqlUrl',
      `mysql://root:pup@${container.getHost()}:${container.getPort()}/${container.getDatabase()}`,
    );
    return async () => {
      await container.stop();
    };
  }

  if (await answers(LOCAL_DEFAULT_URL)) {
    project.provide('mysqlUrl', LOCAL_DEFAULT_URL);
    return async () => {};
  }

  throw new Error(
    'No MySQL for the @pup/mysql tests: set PUP_TEST_MYSQL_URL (for example ' +
      `mysql://root@127.0.0.1:3306/test), start a container runtime for testcontainers, or run a server at ${LOCAL_DEFAULT_URL}`,
  );
}
