import type pg from 'pg';

/** A pool or a connected client: what the catalog is read through. */
type Queryable = Pick<pg.Pool, 'query'>;

/** Runs `sql` with the schema name as `$1`. */
async function rows(pool: Queryable, sql: string, schema: string): Promise<unknown[]> {
  return (await pool.query(sql, [schema])).rows;
}

/**
 * Everything PostgreSQL's catalogs say about one schema: relations (tables, indexes, sequences),
 * columns with types, nullability, defaults and identity, constraints, indexes, sequences,
 * triggers, functions and each table's row count. The schema's name is replaced by `<schema>`,
 * so two schemas holding the same tables compare equal. Each query is a statement of its own: no
 * transaction stays open.
 */
export async function postgresCatalog(pool: Queryable, schema: string): Promise<unknown> {
  const relations = (await rows(
    pool,
    `SELECT c.relname, c.relkind, c.relpersistence, c.reloptions,
            obj_description(c.oid, 'pg_class') AS description
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1
      ORDER BY c.relname`,
    schema,
  )) as { relname: string; relkind: string }[];
  const columns = await rows(
    pool,
    `SELECT table_name, column_name, ordinal_position, data_type, udt_name, is_nullable,
            column_default, is_identity, identity_generation, identity_start, identity_increment,
            identity_maximum, identity_minimum, identity_cycle, is_generated,
            generation_expression, character_maximum_length, numeric_precision, numeric_scale,
            datetime_precision, collation_name
       FROM information_schema.columns
      WHERE table_schema = $1
      ORDER BY table_name, ordinal_position`,
    schema,
  );
  const constraints = await rows(
    pool,
    `SELECT c.relname AS table_name, con.conname, con.contype, con.condeferrable,
            con.condeferred, con.convalidated, pg_get_constraintdef(con.oid) AS definition
       FROM pg_constraint con
       JOIN pg_class c ON c.oid = con.conrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1
      ORDER BY c.relname, con.conname`,
    schema,
  );
  const indexes = await rows(
    pool,
    `SELECT c.relname AS table_name, i.relname AS index_name, ix.indisunique, ix.indisprimary,
            pg_get_indexdef(ix.indexrelid) AS definition
       FROM pg_index ix
       JOIN pg_class i ON i.oid = ix.indexrelid
       JOIN pg_class c ON c.oid = ix.indrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1
      ORDER BY c.relname, i.relname`,
    schema,
  );
  const sequences = await rows(
    pool,
    `SELECT sequencename, data_type::text, start_value, min_value, max_value, increment_by, cycle,
            cache_size
       FROM pg_sequences
      WHERE schemaname = $1
      ORDER BY sequencename`,
    schema,
  );
  const triggers = await rows(
    pool,
    `SELECT c.relname AS table_name, t.tgname, pg_get_triggerdef(t.oid) AS definition
       FROM pg_trigger t
       JOIN pg_class c ON c.oid = t.tgrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND NOT t.tgisinternal
      ORDER BY c.relname, t.tgname`,
    schema,
  );
  const functions = await rows(
    pool,
    `SELECT p.proname, pg_get_function_identity_arguments(p.oid) AS arguments, p.prokind,
            CASE WHEN p.prokind IN ('f', 'p') THEN pg_get_functiondef(p.oid) END AS definition
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = $1
      ORDER BY p.proname, 2`,
    schema,
  );
  const rowCounts: Record<string, number> = {};
  for (const { relname } of relations.filter((r) => r.relkind === 'r' || r.relkind === 'p')) {
    const result = await pool.query(`SELECT count(*)::int AS n FROM "${schema}"."${relname}"`);
    rowCounts[relname] = (result.rows[0] as { n: number }).n;
  }
  const catalog = {
    relations,
    columns,
    constraints,
    indexes,
    sequences,
    triggers,
    functions,
    rowCounts,
  };
  return JSON.parse(JSON.stringify(catalog).replaceAll(schema, '<schema>'));
}
