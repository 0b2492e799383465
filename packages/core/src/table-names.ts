import { InvalidConfigError } from './errors.js';
import type { TableNames } from './types.js';

/** The default table names. */
export const defaultTableNames: Readonly<TableNames> = Object.freeze({
  events: 'events',
  aggregateHeads: 'aggregate_heads',
  checkpoints: 'projection_checkpoints',
});

const MAX_IDENTIFIER_LENGTH = 63;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** A table derived from a configured one: the configured table's key and the suffix. */
export type DerivedTable = readonly [base: keyof TableNames, suffix: string];

/**
 * The tables every adapter keeps beside the three configured ones, in the same schema:
 * `<events>_meta` (schema version), `<checkpoints>_leases` (projection workers) and
 * `<checkpoints>_dead_letters` (events projections set aside).
 */
export const derivedTables = Object.freeze({
  meta: ['events', 'meta'],
  leases: ['checkpoints', 'leases'],
  deadLetters: ['checkpoints', 'dead_letters'],
} as const satisfies Record<string, DerivedTable>);

/**
 * `<name>_<suffix>`, with `name` shortened so that the result fits 63 characters (the longest
 * identifier PostgreSQL keeps, and a valid one everywhere): for derived tables, constraints and
 * indexes.
 */
export function derivedIdentifier(name: string, suffix: string): string {
  return `${name.slice(0, MAX_IDENTIFIER_LENGTH - suffix.length - 1)}_${suffix}`;
}

/**
 * The parts of the table derived from the validated, optionally schema-qualified `name`: the same
 * schema, and {@link derivedIdentifier} of its table name.
 */
export function derivedTableName(name: string, suffix: string): string[] {
  const parts = parseQualifiedName(name, 'table');
  return [...parts.slice(0, -1), derivedIdentifier(parts[parts.length - 1]!, suffix)];
}

/**
 * Whether two parsed names can be the same table: equal names (case-insensitively) in the same
 * schema, or with either unqualified (the connection's default schema may be the other's).
 */
function sameTable(a: readonly string[], b: readonly string[]): boolean {
  if (a.at(-1)!.toLowerCase() !== b.at(-1)!.toLowerCase()) return false;
  return a.length === 1 || b.length === 1 || a[0]!.toLowerCase() === b[0]!.toLowerCase();
}

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
 * Fills in default table names and validates every one of them before any SQL runs, including
 * that none is the name of a table the store derives ({@link derivedTables}, and an adapter's
 * own `extraDerived` ones).
 * @throws {InvalidConfigError} on an invalid or repeated name, or one that is a derived table's.
 */
export function resolveTableNames(
  tables?: Partial<TableNames> | null,
  extraDerived: Readonly<Record<string, DerivedTable>> = {},
): TableNames {
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
  const configured = Object.keys(resolved) as (keyof TableNames)[];
  for (const [base, suffix] of [...Object.values(derivedTables), ...Object.values(extraDerived)]) {
    const derived = derivedTableName(resolved[base], suffix);
    for (const key of configured) {
      if (sameTable(parseQualifiedName(resolved[key], `tables.${key}`), derived)) {
        throw new InvalidConfigError(
          `tables.${key}`,
          `${JSON.stringify(resolved[key])} is the name of a table the store derives from tables.${base} (${derived.join('.')})`,
        );
      }
    }
  }
  return resolved;
}

/** Quotes a validated, optionally schema-qualified name with the dialect's quote character. */
export function quoteQualifiedName(name: string, quote: '"' | '`', option = 'table'): string {
  return parseQualifiedName(name, option)
    .map((part) => `${quote}${part}${quote}`)
    .join('.');
}
