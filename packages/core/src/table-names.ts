import { InvalidConfigError } from './errors.js';
import type { TableNames } from './types.js';

/** The default table names. */
export const defaultTableNames: Readonly<TableNames> = Object.freeze({
  events: 'events',
  aggregateHeads: 'aggregate_heads',
  checkpoints: 'projection_checkpoints',
});

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * Splits a validated, optionally schema-qualified name into its parts, for the adapter to quote.
 * @throws {InvalidConfigError} when `name` is not one or two SQL identifiers joined by a dot.
 */
export function parseQualifiedName(name: unknown, option: string): string[] {
  if (typeof name !== 'string') {
    throw new InvalidConfigError(option, 'must be a string');
  }
  const parts = name.split('.');
  if (parts.length > 2 || !parts.every((part) => IDENTIFIER.test(part))) {
    throw new InvalidConfigError(
      option,
      `${JSON.stringify(name)} is not a SQL identifier (letters, digits and _, at most 63 characters, optionally schema-qualified)`,
    );
  }
  return parts;
}

/**
 * Fills in default table names and validates every one of them before any SQL runs.
 * @throws {InvalidConfigError} on an invalid or repeated name.
 */
export function resolveTableNames(tables?: Partial<TableNames> | null): TableNames {
  if (tables !== undefined && tables !== null && typeof tables !== 'object') {
    throw new InvalidConfigError('tables', 'must be an object');
  }
  const resolved: TableNames = { ...defaultTableNames };
  for (const key of Object.keys(tables ?? {})) {
    if (!(key in defaultTableNames)) {
      throw new InvalidConfigError(`tables.${key}`, 'is not a known table');
    }
    const value = (tables as Record<string, unknown>)[key];
    if (value !== undefined) {
      resolved[key as keyof TableNames] = value as string;
    }
  }
  for (const key of Object.keys(resolved) as (keyof TableNames)[]) {
    parseQualifiedName(resolved[key], `tables.${key}`);
  }
  const names = new Set(Object.values(resolved).map((n) => n.toLowerCase()));
  if (names.size !== 3) {
    throw new InvalidConfigError('tables', 'the three table names must differ');
  }
  return resolved;
}

/** Quotes a validated, optionally schema-qualified name with the dialect's quote character. */
export function quoteQualifiedName(name: string, quote: '"' | '`', option = 'table'): string {
  return parseQualifiedName(name, option)
    .map((part) => `${quote}${part}${quote}`)
    .join('.');
}
