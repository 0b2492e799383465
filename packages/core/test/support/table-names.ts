// Repository test plumbing shared by the server adapters' tests (not published).
import { randomBytes } from 'node:crypto';
import type { TableNames } from '../../src/index.js';

/** A schema (PostgreSQL) or database (MySQL) name no other test uses. */
export function uniqueNamespace(): string {
  return `pup_t_${randomBytes(6).toString('hex')}`;
}

const DEFAULT_TABLES: TableNames = {
  events: 'events',
  aggregateHeads: 'aggregate_heads',
  checkpoints: 'projection_checkpoints',
};

/**
 * Qualifies every unqualified table name (defaults included) with `namespace` (a schema or a
 * database); anything else (names with a dot, non-strings, unknown keys) reaches the factory
 * unchanged, so invalid options still fail with the factory's own error.
 */
export function qualifyTables(
  namespace: string,
  tables: Partial<TableNames> | undefined | null,
): Record<string, unknown> | undefined | null {
  if (tables !== undefined && tables !== null && typeof tables !== 'object') return tables;
  const all: Record<string, unknown> = { ...DEFAULT_TABLES, ...(tables ?? {}) };
  for (const [key, name] of Object.entries(all)) {
    if (typeof name === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      all[key] = `${namespace}.${name}`;
    }
  }
  return all;
}
