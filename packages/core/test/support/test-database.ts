// Repository test plumbing shared by the database packages' global setups (not published): where
// a test run gets its server, in the order SPEC.md gives.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** A server of the test run, and how to let it go afterwards. */
export interface TestDatabase {
  url: string;
  stop(): Promise<void>;
}

/** How one package finds its server. */
export interface TestDatabaseSource {
  /** `PostgreSQL`, `MySQL`, … for messages. */
  database: string;
  /** The package whose tests need it, for messages. */
  packageName: string;
  /** The environment variable that names the server (`PUP_TEST_POSTGRES_URL`). */
  variable: string;
  /** The well-known local server tried last. */
  localUrl: string;
  /** Whether a server answers at `url` (a short connect and `SELECT 1`). */
  answers(url: string): Promise<boolean>;
  /**
   * Starts a container of the database through testcontainers (imported by the caller, from its
   * own dependencies); absent when the package never starts one.
   */
  container?: {
    loadRuntimeProbe(): Promise<{ getContainerRuntimeClient(): Promise<unknown> }>;
    start(): Promise<TestDatabase>;
  };
}

/** Cheap signs that a container runtime may be configured, checked before loading testcontainers. */
function containerRuntimeHinted(): boolean {
  const runtimeDir = process.env.XDG_RUNTIME_DIR;
  return (
    process.env.DOCKER_HOST !== undefined ||
    process.env.TESTCONTAINERS_HOST_OVERRIDE !== undefined ||
    existsSync('/var/run/docker.sock') ||
    existsSync(join(homedir(), '.docker', 'run', 'docker.sock')) ||
    existsSync(join(homedir(), '.testcontainers.properties')) ||
    (runtimeDir !== undefined &&
      (existsSync(join(runtimeDir, 'docker.sock')) ||
        existsSync(join(runtimeDir, 'podman', 'podman.sock'))))
  );
}

async function containerRuntimeAnswers(
  loadRuntimeProbe: () => Promise<{ getContainerRuntimeClient(): Promise<unknown> }>,
): Promise<boolean> {
  if (!containerRuntimeHinted()) return false;
  try {
    const { getContainerRuntimeClient } = await loadRuntimeProbe();
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

const nothingToStop = async (): Promise<void> => {};

/**
 * The server of the test run: the one the environment variable names (which must answer); else
 * a container when a container runtime answers (and the source can start one); else the local
 * server when it answers; else the run fails with a message naming the variable. Never a skip.
 */
export async function resolveTestDatabase(source: TestDatabaseSource): Promise<TestDatabase> {
  const fromEnv = process.env[source.variable];
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!(await source.answers(fromEnv))) {
      throw new Error(`${source.variable} is set but ${source.database} does not answer at it`);
    }
    return { url: fromEnv, stop: nothingToStop };
  }
  if (
    source.container !== undefined &&
    (await containerRuntimeAnswers(source.container.loadRuntimeProbe))
  ) {
    return source.container.start();
  }
  if (await source.answers(source.localUrl)) return { url: source.localUrl, stop: nothingToStop };
  throw new Error(
    `No ${source.database} for the ${source.packageName} tests: set ${source.variable} (for example ${source.localUrl})${
      source.container === undefined ? '' : ', start a container runtime for testcontainers'
    }, or run a server at ${source.localUrl}`,
  );
}
