import { importOptional } from './load.js';
import type { AdapterName, BenchTarget, TargetConfig } from './types.js';

/** A target the benchmark can build, and whether its adapter exists in this workspace. */
export interface TargetEntry {
  id: string;
  adapter: AdapterName;
  /** Loads the target's modules (and through them the adapter and core) without connecting. */
  load(): Promise<unknown>;
  create(config: TargetConfig): Promise<BenchTarget>;
}

/**
 * Every target, in report order. To add an adapter: implement `BenchTarget` in
 * `targets/<adapter>.ts` with the raw baselines on the same driver, and list it here; the
 * workloads, runner, RSS child and report need no change.
 */
export const TARGETS: readonly TargetEntry[] = [
  {
    id: 'sqlite',
    adapter: 'sqlite',
    load: () => import('./sqlite.js').then((m) => m.loadSqliteAdapter()),
    create: async (config) => (await import('./sqlite.js')).createSqliteTarget(config),
  },
  {
    id: 'postgres-pg',
    adapter: 'postgres',
    load: () => import('./postgres-pg.js').then((m) => m.loadPgAdapter()),
    create: async (config) => (await import('./postgres-pg.js')).createPgTarget(config),
  },
  {
    id: 'postgres-js',
    adapter: 'postgres',
    load: () => import('./postgres-js.js').then((m) => m.loadPostgresJsAdapter()),
    create: async (config) => (await import('./postgres-js.js')).createPostgresJsTarget(config),
  },
  {
    id: 'mysql',
    adapter: 'mysql',
    load: () => import('./mysql.js').then((m) => m.loadMysqlAdapter()),
    create: async (config) => (await import('./mysql.js')).createMysqlTarget(config),
  },
];

/** Adapters with a benchmark target in this harness. */
export const KNOWN_ADAPTERS: readonly AdapterName[] = ['sqlite', 'postgres', 'mysql'];

/**
 * Why an adapter cannot be benchmarked here, or null when it can: its package does not load
 * (not built), or the harness has no target for it.
 */
export async function adapterUnavailable(adapter: AdapterName): Promise<string | null> {
  if (!TARGETS.some((t) => t.adapter === adapter)) {
    return `no benchmark target for ${adapter} (add one in bench/src/targets)`;
  }
  return (await importOptional(`@pup/${adapter}`)).reason;
}

/** Builds the target with this id. */
export function targetEntry(id: string): TargetEntry {
  const entry = TARGETS.find((t) => t.id === id);
  if (entry === undefined) throw new Error(`unknown benchmark target ${id}`);
  return entry;
}
