import type { NewEvent, StreamRef } from '@pup/core';

/** The adapters the benchmark knows; a target is one adapter with one driver. */
export type AdapterName = 'sqlite' | 'postgres' | 'mysql';

/** Options of a catch-up read of the whole log. */
export interface CatchUpOptions {
  /** Events in the log; the read stops once it has seen this many. */
  total: number;
  /** Events per batch (per transaction for pup, per keyset query for raw). */
  batchSize: number;
  /** Called after each batch with the events seen so far (the RSS child samples memory here). */
  onBatch?: (seen: number) => void;
}

/** The operations a workload times: one implementation through pup, one through the raw driver. */
export interface SideOps {
  /** Appends the events (all of one new stream) in one transaction. */
  append(events: readonly NewEvent[]): Promise<void>;
  /** Reads one whole stream; returns how many events were read. */
  readStream(stream: StreamRef): Promise<number>;
  /** Reads the whole log from the start in batches; returns how many events were read. */
  catchUp(options: CatchUpOptions): Promise<number>;
}

/**
 * Which implementation runs: pup; the raw-driver baseline the issues define (appends write the
 * event rows only, reads return the driver's rows); or `rawPlus`, the raw baseline doing the rest
 * of pup's unavoidable work: appends also create the aggregate head row in the same statement or
 * transaction, reads also decode each row (payload JSON, metadata JSON, `created_at` as a Date).
 */
export type SideName = 'pup' | 'raw' | 'rawPlus';

/** Where targets find their databases; handed to the RSS child process as JSON. */
export interface TargetConfig {
  /** PostgreSQL connection string. */
  postgresUrl: string;
  /** PostgreSQL schema the benchmark owns (dropped and recreated per workload). */
  postgresSchema: string;
  /** SQLite database file (recreated per workload). */
  sqliteFile: string;
}

/** One adapter + driver under test, with both sides and the plumbing around them. */
export interface BenchTarget {
  /** Stable id used in JSON and on the command line of the RSS child: `sqlite`, `postgres-pg`… */
  readonly id: string;
  readonly adapter: AdapterName;
  /** Driver name and version, such as `pg 8.23.1`. */
  readonly driver: string;
  /** Why the pup side cannot run (adapter or projection engine missing), or null when it can. */
  pupUnavailable(): string | null;
  /** Connects and creates the pup store; call once. */
  open(): Promise<void>;
  /** Releases connections. */
  close(): Promise<void>;
  /** Versions and durability settings worth printing with the results. */
  environment(): Promise<Record<string, string>>;
  /** Drops and recreates the tables (through pup's `migrate()` once the adapter exists). */
  resetTables(): Promise<void>;
  /** Empties the tables so the next run starts from the same state. */
  emptyTables(): Promise<void>;
  /** Bulk-loads `count` events as streams of `perStream` events with fast raw SQL (untimed). */
  preload(count: number, perStream: number, onProgress?: (done: number) => void): Promise<void>;
  /** What a workload should know about this target, such as how concurrent writers behave. */
  notes(workload: string): string | undefined;
  readonly pup: SideOps;
  readonly raw: SideOps;
  /** `raw` plus the head row (appends) or the decoding of each row read (reads). */
  readonly rawPlus: SideOps;
}

/** Creates a target from its config; `null` when its driver or adapter is not installed. */
export type TargetFactory = (config: TargetConfig) => Promise<BenchTarget>;
