import type { NewEvent, StreamRef } from '@pup/core';

/** The adapters the benchmark knows; a target is one adapter with one driver. */
export type AdapterName = 'sqlite' | 'postgres' | 'mysql';

/** Options of a catch-up read of the whole log. */
export interface CatchUpOptions {
  /** Events to read at least; the read stops at the first batch boundary at or after this many. */
  total: number;
  /**
   * Events per batch: pup's `batchSize` (batches may grow up to its default `maxBatchSize` while
   * behind), the page size of a raw keyset read, the peer's batch size.
   */
  batchSize: number;
  /** Called after each batch with the events seen so far (the RSS child samples memory here). */
  onBatch?: (seen: number) => void;
  /** Ends the read early, after the batch in flight; the result is then what was read. */
  signal?: AbortSignal;
}

/** The operations a workload times: one implementation per side. */
export interface SideOps {
  /** Appends the events (all of one new stream) in one transaction. */
  append(events: readonly NewEvent[]): Promise<void>;
  /**
   * Appends the events (all of one new stream) without a transaction around the call: pup's
   * `store.appendToStream`, the peer's own append, or (raw) one autocommit statement. Absent on
   * the sides that have no such path.
   */
  appendToStream?(events: readonly NewEvent[]): Promise<void>;
  /** Reads one whole stream; returns how many events were read. */
  readStream(stream: StreamRef): Promise<number>;
  /** Reads the whole log from the start in batches; returns how many events were read. */
  catchUp(options: CatchUpOptions): Promise<number>;
}

/**
 * Which implementation runs: pup; the raw-driver baseline the issues define (appends write the
 * event rows only, reads return the driver's rows); `rawPlus`, the raw baseline doing the rest
 * of pup's unavoidable work (appends also create the aggregate head row, on MySQL through pup's
 * position blocks; reads also decode each row); `peer`, another event-sourcing library on the
 * same database (Emmett on PostgreSQL). A workload may give a side another meaning and says so
 * in its labels.
 */
export type SideName = 'pup' | 'raw' | 'rawPlus' | 'peer';

/** Where targets find their databases; handed to the RSS child process as JSON. */
export interface TargetConfig {
  /** PostgreSQL connection string. */
  postgresUrl: string;
  /** PostgreSQL schema the benchmark owns (dropped and recreated per workload). */
  postgresSchema: string;
  /** PostgreSQL schema of the peer library's tables (created once, dropped at the end). */
  peerSchema: string;
  /** SQLite database file (recreated per workload). */
  sqliteFile: string;
  /** MySQL / MariaDB connection string. */
  mysqlUrl: string;
  /** MySQL database the benchmark owns (dropped and recreated per workload). */
  mysqlDatabase: string;
}

/** Another event-sourcing library measured beside pup on the same database. */
export interface PeerTarget {
  /** Name and version, such as `emmett 0.42.0`. */
  readonly name: string;
  /** Workload ids the peer takes part in. */
  readonly workloads: readonly string[];
  /** Why the peer cannot run (not installed, failed to open), or null when it can. */
  unavailable(): string | null;
  /** Connects and creates the peer's schema; call once. A failure is kept as `unavailable()`. */
  open(): Promise<void>;
  close(): Promise<void>;
  /** Empties the peer's tables so the next run starts from the same state. */
  empty(): Promise<void>;
  /** Loads `count` events as streams of `perStream` through the peer's own API (untimed). */
  preload(count: number, perStream: number): Promise<void>;
  /** Settings worth printing with the results (batch size, polling). */
  environment(): Record<string, string>;
  notes(workload: string): string | undefined;
  readonly ops: SideOps;
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
  /**
   * Opens a pup transaction, appends one event in it and keeps it open until the returned
   * function is called (which commits it). Only on targets that measure a held-open writer.
   */
  holdOpenTransaction?(): Promise<() => Promise<void>>;
  /** Another library on the same database, when this target measures one (created, not opened). */
  readonly peer?: PeerTarget;
}

/** Creates a target from its config; `null` when its driver or adapter is not installed. */
export type TargetFactory = (config: TargetConfig) => Promise<BenchTarget>;
