import type mysql from 'mysql2/promise';

/** A pool or a connection: what the catalog is read through. */
type Queryable = Pick<mysql.Pool, 'query'>;

async function rows(db: Queryable, sql: string, params: unknown[]): Promise<unknown[]> {
  const [result] = await db.query(sql, params);
  return result as unknown[];
}

/**
 * Everything MySQL's / MariaDB's `information_schema` says about one database: tables (engine,
 * collation, options), columns (type, nullability, default, charset, extra), indexes, constraints
 * (with key columns and checks), triggers, routines, each table's `SHOW CREATE TABLE` and its rows
 * (the schema writes rows: its version, the first position blocks). The database's name is
 * replaced by `<schema>`, so two databases holding the same tables compare equal.
 */
export async function mysqlCatalog(db: Queryable, schema: string): Promise<unknown> {
  const tables = (await rows(
    db,
    `SELECT TABLE_NAME, TABLE_TYPE, ENGINE, ROW_FORMAT, TABLE_COLLATION, CREATE_OPTIONS, TABLE_COMMENT
       FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME`,
    [schema],
  )) as { TABLE_NAME: string }[];
  const columns = await rows(
    db,
    `SELECT TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, COLUMN_DEFAULT, IS_NULLABLE, DATA_TYPE,
            CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION,
            CHARACTER_SET_NAME, COLLATION_NAME, COLUMN_TYPE, COLUMN_KEY, EXTRA,
            GENERATION_EXPRESSION, COLUMN_COMMENT
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ?
      ORDER BY TABLE_NAME, ORDINAL_POSITION`,
    [schema],
  );
  const indexes = await rows(
    db,
    `SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, SEQ_IN_INDEX, COLUMN_NAME, COLLATION, SUB_PART,
            NULLABLE, INDEX_TYPE
       FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ?
      ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`,
    [schema],
  );
  const constraints = await rows(
    db,
    `SELECT TABLE_NAME, CONSTRAINT_NAME, CONSTRAINT_TYPE
       FROM information_schema.TABLE_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ?
      ORDER BY TABLE_NAME, CONSTRAINT_NAME`,
    [schema],
  );
  const keyColumns = await rows(
    db,
    `SELECT TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME, ORDINAL_POSITION, REFERENCED_TABLE_SCHEMA,
            REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME
       FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = ?
      ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION`,
    [schema],
  );
  const checks = await rows(
    db,
    `SELECT CONSTRAINT_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS
      WHERE CONSTRAINT_SCHEMA = ? ORDER BY CONSTRAINT_NAME, CHECK_CLAUSE`,
    [schema],
  );
  const triggers = await rows(
    db,
    `SELECT TRIGGER_NAME, EVENT_MANIPULATION, EVENT_OBJECT_TABLE, ACTION_TIMING, ACTION_STATEMENT
       FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? ORDER BY TRIGGER_NAME`,
    [schema],
  );
  const routines = await rows(
    db,
    `SELECT ROUTINE_NAME, ROUTINE_TYPE, ROUTINE_DEFINITION
       FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? ORDER BY ROUTINE_NAME`,
    [schema],
  );
  const definitions: Record<string, { create: string; rows: string[] }> = {};
  for (const { TABLE_NAME: table } of tables) {
    const name = `\`${schema}\`.\`${table}\``;
    const [show] = (await rows(db, `SHOW CREATE TABLE ${name}`, [])) as Record<string, string>[];
    const content = (await rows(db, `SELECT * FROM ${name}`, [])).map((row) => JSON.stringify(row));
    definitions[table] = {
      create: (show?.['Create Table'] ?? '').replace(/ AUTO_INCREMENT=\d+/, ''),
      rows: content.sort(),
    };
  }
  const catalog = {
    tables,
    columns,
    indexes,
    constraints,
    keyColumns,
    checks,
    triggers,
    routines,
    definitions,
  };
  return JSON.parse(JSON.stringify(catalog).replaceAll(schema, '<schema>'));
}
