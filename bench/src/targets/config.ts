import type { AdapterName, TargetConfig } from './types.js';

/**
 * Where the targets of a run find their databases: the environment's connection strings (or the
 * local defaults) and scratch names derived from `scratch`, which the run creates and drops.
 */
export function targetConfig(scratch: string, sqliteFile: string): TargetConfig {
  return {
    postgresUrl:
      process.env.PUP_BENCH_POSTGRES_URL ??
      process.env.PUP_TEST_POSTGRES_URL ??
      'postgres://postgres@127.0.0.1:5432/test',
    postgresSchema: scratch,
    peerSchema: `${scratch}_peer`,
    sqliteFile,
    mysqlUrl:
      process.env.PUP_BENCH_MYSQL_URL ??
      process.env.PUP_TEST_MYSQL_URL ??
      'mysql://root@127.0.0.1:3306/test',
    mysqlDatabase: scratch,
  };
}

/** Drops the run's PostgreSQL schemas and MySQL database, whatever happened. */
export async function dropScratch(config: TargetConfig, adapters: AdapterName[]): Promise<void> {
  if (adapters.includes('postgres')) {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: config.postgresUrl });
    try {
      await client.connect();
      for (const schema of [config.postgresSchema, config.peerSchema]) {
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      }
    } catch {
      // Nothing to clean when the server was never reachable.
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  if (adapters.includes('mysql')) {
    const { default: mysql } = await import('mysql2/promise');
    try {
      const connection = await mysql.createConnection({ uri: config.mysqlUrl });
      try {
        await connection.query(`DROP DATABASE IF EXISTS ${config.mysqlDatabase}`);
      } finally {
        await connection.end();
      }
    } catch {
      // Nothing to clean when the server was never reachable.
    }
  }
}
