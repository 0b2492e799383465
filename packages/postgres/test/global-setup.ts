import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';

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
 * Resolves the database of the test run (SPEC §5): `PUP_TEST_POSTGRES_URL` when set; else a
 * testcontainers PostgreSQL when a container runtime answers; else the local default server when it
 * answers; else the run fails naming the variable. Never a silent skip.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const fromEnv = process.env.PUP_TEST_POSTGRES_URL;
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!(await answers(fromEnv))) {
      throw new Error(`PUP_TEST_POSTGRES_URL is set but PostgreSQL does not answer at it`);
    }
    project.provide('postgresUrl', fromEnv);
    return async () => {};
  }

  if (await containerRuntimeAnswers()) {
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const container = await new PostgreSqlContainer(CONTAINER_IMAGE).start();
    project.provide('postgresUrl', container.getConnectionUri());
    return async () => {
      await container.stop();
    };
  }

  if (await answers(LOCAL_DEFAULT_URL)) {
    project.provide('postgresUrl', LOCAL_DEFAULT_URL);
    return async () => {};
  }

  throw new Error(
    'No PostgreSQL for the @pup/postgres tests: set PUP_TEST_POSTGRES_URL (for example ' +
      `postgres://postgres@127.0.0.1:5432/test), start a container runtime for testcontainers, or run a server at ${LOCAL_DEFAULT_URL}`,
  );
}
