/**
 * `@pup/mysql`: the MySQL 8 and MariaDB adapter of pup, over `mysql2/promise`.
 *
 * @packageDocumentation
 */
export { BLOCK_SIZE } from './blocks.js';
export type { MysqlPool, MysqlPoolConnection, MysqlResultHeader } from './driver.js';
export { MysqlServerVersionError } from './errors.js';
export type { MysqlEventStoreOptions } from './options.js';
export { mysqlSchemaSql, SCHEMA_VERSION } from './schema.js';
export type { MysqlLogStatus } from './status.js';
export { createMysqlEventStore, type MysqlEventStore } from './store.js';
