/**
 * CPU time of processes and of the whole machine from /proc (Linux), to show where the cores go
 * during a run: the worker processes, the database server, everything.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's times. */
const HZ = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of a process (all its threads) or of one of its threads, in seconds. */
function cpuSeconds(pid: number, thread?: number): number | null {
  try {
    // /proc/<tid>/stat would give the whole process's times: a thread's are under task/.
    const path = thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`;
    const stat = readFileSync(path, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / HZ;
  } catch {
    return null;
  }
}

/** Processes whose command name is one of `names` (the database server's processes). */
function processesNamed(names: readonly string[]): number[] {
  const pids: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return pids;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const comm = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
      if (names.includes(comm)) pids.push(Number(entry));
    } catch {
      // Gone in the meantime.
    }
  }
  return pids;
}

/** The thread ids of a process. */
function threadsOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).map(Number);
  } catch {
    return [];
  }
}

/** Busy seconds of all cores together (everything but idle and iowait), from /proc/stat. */
function machineBusySeconds(): number | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const values = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is inside user already)
    const busy = values.slice(0, 8).reduce((sum, v, i) => (i === 3 || i === 4 ? sum : sum + v), 0);
    return busy / HZ;
  } catch {
    return null;
  }
}

/** A reading of the CPU seconds so far. */
export interface CpuSample {
  at: number;
  workers: number | null;
  /** The benchmark's own other processes (the parent and the controller that polls). */
  bench: number | null;
  database: Map<number, number>;
  machine: number | null;
}

/** Cores in use on average between two samples (1.0 = one core busy all the time). */
export interface CpuUse {
  workers: number | null;
  database: number | null;
  machine: number | null;
  /** Everything else: the machine minus the workers, the database and the benchmark itself. */
  others: number | null;
}

/** Samples CPU of the given worker processes and of the database server's processes. */
export class CpuMeter {
  /**
   * @param perThread sample the database server's threads rather than its processes (MySQL: one
   *   process, a thread per connection).
   * @param databaseNames command names of the database server's processes (`postgres`,
   *   `mariadbd`); empty when the server is not on this machine.
   */
  constructor(
    private readonly perThread: boolean,
    private readonly databaseNames: readonly string[],
  ) {}

  sample(workerPids: readonly number[], benchPids: readonly number[]): CpuSample {
    const sum = (pids: readonly number[]): number | null => {
      let total = 0;
      for (const pid of pids) {
        const seconds = cpuSeconds(pid);
        if (seconds === null) return null;
        total += seconds;
      }
      return total;
    };
    const workers = sum(workerPids);
    const bench = sum(benchPids);
    const database = new Map<number, number>();
    for (const pid of processesNamed(this.databaseNames)) {
      if (!this.perThread) {
        const seconds = cpuSeconds(pid);
        if (seconds !== null) database.set(pid, seconds);
        continue;
      }
      for (const thread of threadsOf(pid)) {
        const seconds = cpuSeconds(pid, thread);
        if (seconds !== null) database.set(thread, seconds);
      }
    }
    return { at: performance.now(), workers, bench, database, machine: machineBusySeconds() };
  }

  /**
   * Average cores between two samples. The database's figure adds up the server's processes
   * (PostgreSQL: one per connection) or threads (MySQL: one per connection) without
   * `otherClients`, the processes or threads serving other clients' connections. Background
   * processes and threads count as the database's. A process or thread that ended between the
   * samples is lost (the workload's connections stay open; PostgreSQL's postmaster also collects
   * the time of ended backends, but those are mostly other clients', so it is left out).
   */
  use(from: CpuSample, to: CpuSample, otherClients: readonly number[] = []): CpuUse {
    const seconds = (to.at - from.at) / 1000;
    const per = (value: number | null) => (value === null ? null : value / seconds);
    let database: number | null = null;
    if (this.databaseNames.length > 0 && to.database.size > 0) {
      database = 0;
      const others = new Set(otherClients);
      for (const [pid, end] of to.database) {
        if (others.has(pid)) continue;
        database += end - (from.database.get(pid) ?? 0);
      }
    }
    const delta = (a: number | null, b: number | null) => (a === null || b === null ? null : b - a);
    const workers = delta(from.workers, to.workers);
    const bench = delta(from.bench, to.bench);
    const machine = delta(from.machine, to.machine);
    const others =
      machine === null || workers === null || bench === null || database === null
        ? null
        : Math.max(0, machine - workers - bench - database);
    return {
      workers: per(workers),
      database: per(database),
      machine: per(machine),
      others: per(others),
    };
  }
}

/** Command names of a local database server's processes for a connection string, or none. */
export function databaseProcessNames(url: string, adapter: 'postgres' | 'mysql'): string[] {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return [];
  }
  if (!['127.0.0.1', 'localhost', '::1', '[::1]', ''].includes(host)) return [];
  return adapter === 'postgres' ? ['postgres'] : ['mariadbd', 'mysqld'];
}
