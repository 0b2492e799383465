export type { PostgresEventStoreOptions } from './options.js';
export {
  createPgEventStore,
  type PgClientOf,
  type PgPool,
  type PgPoolClient,
  type PgQueryConfig,
  type PgQueryResult,
} from './pg-store.js';
export {
  createPostgresJsEventStore,
  type PostgresJsPendingQuery,
  type PostgresJsSql,
  type PostgresJsTransactionSql,
  type PostgresJsTxOf,
} from './postgres-js-store.js';
export { postgresSchemaSql } from './schema.js';
export type { PostgresLogStatus, RunningTransaction } from './status.js';
export type { PostgresEventStore } from './store.js';
