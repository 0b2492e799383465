import type { ReadModelCheck } from './db.js';

/** Cores in use on average during a run (1.0 = one core busy all the time); null: unknown. */
export interface CoresUsed {
  /** The worker processes of the run together (the raw side: its one process). */
  workers: number | null;
  /**
   * The database server (only when it runs on this machine) without what it did for other
   * clients: PostgreSQL's processes but other clients' backends (told by `application_name`),
   * MariaDB's threads but those of other clients' connections (`PROCESSLIST.TID`). Background
   * processes and threads (WAL writer, checkpointer, InnoDB's) count as the database's.
   */
  database: number | null;
  /** Every process of the machine: the cores that were busy at all. */
  machine: number | null;
  /**
   * The machine minus the workers, the database and the benchmark's own parent and controller
   * (which polls the checkpoints): other programs sharing the machine.
   */
  others: number | null;
}

/** What one row of the `worker-scaling` workload measured besides its rate. */
export interface WorkerScalingFigures {
  /** Worker processes of the pup side. */
  processes: number;
  /** Segments the projection is split into. */
  segments: number;
  /**
   * `client-side`: every segment reads every row and drops other segments' events in the
   * process; `server-side`: the database leaves out other segments' rows.
   */
  filtering: 'client-side' | 'server-side';
  /** The processor option passed to the workers; absent when core does not know it. */
  serverSideFiltering?: boolean;
  /** Events/s of this many processes over events/s of 1 process with the same filtering, per pair. */
  speedup: { median: number; min: number; max: number; pairs: number[] };
  /** Median over the pairs of the pup side's CPU use. */
  cpu: CoresUsed;
  /** Median over the pairs of the raw side's CPU use. */
  rawCpu: CoresUsed;
  /**
   * Median over the pairs of when the segments last moved between the workers after their start
   * (ms): until then the first worker to start holds more than its share.
   */
  leasesSettledMs: number;
  /** Handler calls per process in the last pair (batches rolled back by a lease move included). */
  handledPerProcess: number[];
  /** The read model after the last pair's run (every run's is checked; a bad one fails the row). */
  readModel: ReadModelCheck;
}
