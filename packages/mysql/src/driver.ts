/**
 * The few shapes of `mysql2/promise` the store uses, described structurally so that the package
 * loads (and type-checks) without `mysql2` installed: only the pool a user passes in ever talks
 * to the server.
 */

/** The database's name in errors and logs. @internal */
export const DATABASE = 'MySQL';

/** What `query()` resolves to for INSERT, UPDATE, DELETE and other statements without rows. */
export interface MysqlResultHeader {
  affectedRows: number;
  /** The value of `LAST_INSERT_ID()` this statement set, or 0. */
  insertId: number | bigint;
  /** The server status flags after the statement (bit 0: inside a transaction). */
  serverStatus?: number;
}

/**
 * A connection of a `mysql2/promise` pool (`PoolConnection`): the store's transaction handle.
 * Users run their own SQL on it with `query` or `execute`.
 */
export interface MysqlPoolConnection {
  query(sql: string, values?: unknown): Promise<[unknown, unknown]>;
  execute(sql: string, values?: unknown): Promise<[unknown, unknown]>;
  release(): void;
  /** Closes the connection instead of returning it to the pool. */
  destroy?(): void;
  /** The server's id of the connection (`CONNECTION_ID()`). */
  readonly threadId?: number;
}

/** A `mysql2/promise` pool (`createPool(...)`): where the store takes its connections from. */
export interface MysqlPool {
  getConnection(): Promise<MysqlPoolConnection>;
  query(sql: string, values?: unknown): Promise<[unknown, unknown]>;
}

/** Bit of `serverStatus`: a transaction is open on the connection. */
const SERVER_STATUS_IN_TRANS = 1;

/** Runs a statement that returns rows; rows come back as arrays in select-list order. @internal */
export async function selectRows(
  conn: MysqlPoolConnection | MysqlPool,
  sql: string,
  values: readonly unknown[] = [],
): Promise<unknown[][]> {
  const [rows] = await conn.query({ sql, values, rowsAsArray: true } as never);
  return rows as unknown[][];
}

/** Runs a statement without rows and returns its result header. @internal */
export async function run(
  conn: MysqlPoolConnection | MysqlPool,
  sql: string,
  values: readonly unknown[] = [],
): Promise<MysqlResultHeader> {
  const [header] = await conn.query(sql, values);
  return header as MysqlResultHeader;
}

/** Whether the connection has a transaction open, from a statement's result header. @internal */
export function inTransaction(header: MysqlResultHeader): boolean {
  return ((header.serverStatus ?? 0) & SERVER_STATUS_IN_TRANS) !== 0;
}

/** Whether `value` looks like a mysql2 promise connection (a cheap shape check). @internal */
export function isConnection(value: unknown): value is MysqlPoolConnection {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as MysqlPoolConnection).query === 'function' &&
    typeof (value as MysqlPoolConnection).execute === 'function' &&
    typeof (value as MysqlPoolConnection).release === 'function'
  );
}

/** Whether `value` looks like a mysql2 promise pool. @internal */
export function isPool(value: unknown): value is MysqlPool {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as MysqlPool).getConnection === 'function' &&
    typeof (value as MysqlPool).query === 'function'
  );
}

/** A BIGINT or integer column value as a JavaScript number. @internal */
export function toNumber(value: unknown): number {
  return typeof value === 'number' ? value : Number(value);
}
