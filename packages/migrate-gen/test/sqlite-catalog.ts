import type Database from 'better-sqlite3';

/**
 * Everything SQLite's catalog says about a database: `sqlite_schema` (with each object's SQL),
 * every table's columns (`PRAGMA table_xinfo`: types, nullability, defaults, key order), indexes
 * (`index_list`, `index_xinfo`), foreign keys, row counts, and the header's `user_version` and
 * `application_id`.
 */
export function sqliteCatalog(db: Database.Database): unknown {
  const objects = db
    .prepare('SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name')
    .all() as { type: string; name: string }[];
  const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;
  const tables = objects
    .filter((o) => o.type === 'table')
    .map(({ name }) => ({
      name,
      columns: db.pragma(`table_xinfo(${quote(name)})`),
      indexes: (db.pragma(`index_list(${quote(name)})`) as { name: string }[])
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((index) => ({ ...index, columns: db.pragma(`index_xinfo(${quote(index.name)})`) })),
      foreignKeys: db.pragma(`foreign_key_list(${quote(name)})`),
      rows: (db.prepare(`SELECT count(*) AS n FROM ${quote(name)}`).get() as { n: number }).n,
    }));
  return {
    objects,
    tables,
    userVersion: db.pragma('user_version', { simple: true }),
    applicationId: db.pragma('application_id', { simple: true }),
  };
}
