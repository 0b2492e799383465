import type { AdapterName } from './targets/types.js';

/** Parsed command line of `pnpm bench`. */
export interface CliOptions {
  /** Adapters asked for explicitly; empty = every adapter available. */
  adapters: AdapterName[];
  quick: boolean;
  /** `undefined`: no JSON; `'-'`: JSON on stdout (the table moves to stderr); else a file. */
  json: string | undefined;
  /** Workload ids to run; empty = all. */
  workloads: string[];
  /** Overrides the number of A/B pairs. */
  pairs: number | undefined;
  /** Overrides the batch size of the catch-up workloads. */
  batchSize: number | undefined;
  /** Overrides of the `worker-scaling` workload's size. */
  workerScaling: {
    events?: number;
    aggregates?: number;
    processes?: number[];
    segments?: number;
  };
  help: boolean;
}

export const USAGE = `Usage: pnpm bench [--adapter sqlite|postgres|mysql]... [--quick] [--json [file]]
                  [--workload <id>]... [--pairs <n>] [--batch-size <n>]
                  [--worker-events <n>] [--worker-aggregates <n>] [--worker-processes <list>]
                  [--worker-segments <n>]

  --adapter   adapter to run (repeatable or comma-separated); default: every adapter available
  --quick     small sizes, 2 pairs: a smoke test that fails unless every workload produced numbers
  --json      also write the results as JSON to <file>, or to stdout when no file is given
  --workload  only these workloads: append-1 append-1-stream append-100 append-1x8
              append-held-open read-stream-100 catch-up catch-up-1000 catch-up-peer catch-up-rss
              worker-scaling (repeatable or comma-separated)
  --pairs     A/B pairs per workload (default 5, catch-up 3, worker-scaling 2, quick 2;
              worker-scaling quick 1)
  --batch-size  events per batch of the catch-up workloads (default 100, the processor's)
  --worker-events      events in the log of worker-scaling (default 50000, quick 2000)
  --worker-aggregates  aggregates they are spread over (default 2500, quick 100)
  --worker-processes   worker process counts, comma-separated (default 1,2,4)
  --worker-segments    segments of the projection (default 8)

Environment: PUP_BENCH_POSTGRES_URL, else PUP_TEST_POSTGRES_URL, else
postgres://postgres@127.0.0.1:5432/test; PUP_BENCH_MYSQL_URL, else PUP_TEST_MYSQL_URL, else
mysql://root@127.0.0.1:3306/test.`;

const ADAPTERS: readonly string[] = ['sqlite', 'postgres', 'mysql'];

/** Parses `argv` (without node and script); throws with a message on bad input. */
export function parseCli(argv: readonly string[]): CliOptions {
  const options: CliOptions = {
    adapters: [],
    quick: false,
    json: undefined,
    workloads: [],
    pairs: undefined,
    batchSize: undefined,
    workerScaling: {},
    help: false,
  };
  const positive = (value: string | undefined, flag: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} needs a positive integer`);
    return n;
  };
  const list = (value: string | undefined, flag: string): string[] => {
    if (value === undefined || value.startsWith('--')) throw new Error(`${flag} needs a value`);
    return value.split(',').filter((part) => part.length > 0);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=') ? arg.split('=', 2) : [arg, undefined];
    switch (flag) {
      case '--':
        break;
      case '--adapter':
        for (const adapter of list(inline ?? argv[++i], '--adapter')) {
          if (!ADAPTERS.includes(adapter)) {
            throw new Error(`unknown adapter ${adapter} (sqlite, postgres or mysql)`);
          }
          if (!options.adapters.includes(adapter as AdapterName)) {
            options.adapters.push(adapter as AdapterName);
          }
        }
        break;
      case '--quick':
        options.quick = true;
        break;
      case '--json': {
        const next = inline ?? argv[i + 1];
        if (inline === undefined && (next === undefined || next.startsWith('--'))) {
          options.json = '-';
        } else {
          options.json = next;
          if (inline === undefined) i++;
        }
        break;
      }
      case '--workload':
        options.workloads.push(...list(inline ?? argv[++i], '--workload'));
        break;
      case '--pairs': {
        const n = Number(inline ?? argv[++i]);
        if (!Number.isInteger(n) || n < 1) throw new Error('--pairs needs a positive integer');
        options.pairs = n;
        break;
      }
      case '--batch-size': {
        const n = Number(inline ?? argv[++i]);
        if (!Number.isInteger(n) || n < 1) throw new Error('--batch-size needs a positive integer');
        options.batchSize = n;
        break;
      }
      case '--worker-events':
        options.workerScaling.events = positive(inline ?? argv[++i], flag);
        break;
      case '--worker-aggregates':
        options.workerScaling.aggregates = positive(inline ?? argv[++i], flag);
        break;
      case '--worker-segments':
        options.workerScaling.segments = positive(inline ?? argv[++i], flag);
        break;
      case '--worker-processes':
        options.workerScaling.processes = list(inline ?? argv[++i], flag)
          .map((n) => positive(n, flag))
          .sort((a, b) => a - b);
        break;
      case '--help':
      case '-h':
        options.help = true;
        break;
      default:
        throw new Error(`unknown argument ${arg}`);
    }
  }
  return options;
}
