// Repository test plumbing shared by the adapters' fault tests: writer processes killed with
// SIGKILL at random while they append. The worker (a small program of each adapter's test suite)
// calls `runWriterWorker(store)`; the test calls `runWriterKillScenario` and then checks the log.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomInt, randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import type { CrashWorkerCommand } from '../../src/conformance/index.js';
import { ExpectedVersion } from '../../src/expected-version.js';
import type { EventStore, NewEvent, PersistedEvent, StreamRef } from '../../src/types.js';
import {
  assertLogInvariants,
  FaultLedger,
  ProjectionUnderFaults,
  type RawEventRow,
  streamOrderInversions,
} from './faults.js';

/** Environment variable naming the bounded context the writers append to. */
export const WRITER_LABEL_ENV = 'PUP_WRITER_LABEL';
const ACK = 'pup-writer-ack ';

/**
 * The worker's side: appends to a few shared streams in a loop until killed, and writes one line
 * per acknowledged append (its event ids) to stdout, after the append resolved. Appends read the
 * stream and append at its exact version in a store transaction, or use `appendToStream`.
 */
export async function runWriterWorker<Tx>(store: EventStore<Tx>): Promise<never> {
  const label = process.env[WRITER_LABEL_ENV];
  if (!label) throw new Error(`${WRITER_LABEL_ENV} is not set`);
  const streams: StreamRef[] = Array.from({ length: 4 }, (_, i) => ({
    boundedContext: label,
    aggregateType: 'Ledger',
    aggregateId: `ledger-${i}`,
  }));
  for (;;) {
    const stream = streams[randomInt(streams.length)]!;
    const events: NewEvent[] = Array.from({ length: randomInt(1, 4) }, (_, n) => ({
      ...stream,
      eventId: randomUUID(),
      eventType: 'Posted',
      payload: { n, pid: process.pid },
    }));
    try {
      if (randomInt(2) === 0) {
        await store.transaction(async (tx) => {
          const current = await store.readAggregateStream(tx, stream);
          await store.append(tx, ExpectedVersion.exact(current.version), events);
        });
      } else {
        await store.appendToStream(ExpectedVersion.any(), events);
      }
      process.stdout.write(`${ACK}${JSON.stringify(events.map((e) => e.eventId))}\n`);
    } catch {
      // Conflicts with the other writer: try again with another append.
    }
  }
}

/** Options of {@link runWriterKillScenario}. */
export interface WriterKillScenarioOptions {
  /** How to start a writer (its environment must lead to the test's database). */
  worker: CrashWorkerCommand;
  /** Rounds of writers started and killed. @default 3 */
  rounds?: number;
  /** Writer processes running at once in each round. @default 2 */
  writersPerRound?: number;
  /** Time limit of one round, in milliseconds. @default 20000 */
  roundTimeoutMs?: number;
}

/** What {@link runWriterKillScenario} did. */
export interface WriterKillScenarioReport {
  /** The bounded context the writers appended to. */
  label: string;
  /** Every append a writer acknowledged before it was killed (and nothing else). */
  ledger: FaultLedger;
  /** Processes killed. */
  kills: number;
}

/**
 * Starts writer processes, lets each acknowledge a few appends, then SIGKILLs each at a random
 * moment (up to 300 ms after its fifth acknowledgement), in several rounds. The report's ledger
 * holds what was acknowledged; whatever a writer was doing when it died is unknown to it, so
 * the test checks the log with `assertLogInvariants`.
 */
export async function runWriterKillScenario(
  options: WriterKillScenarioOptions,
): Promise<WriterKillScenarioReport> {
  const label = `writers-${randomUUID().slice(0, 8)}`;
  const ledger = new FaultLedger();
  let kills = 0;
  for (let round = 0; round < (options.rounds ?? 3); round++) {
    const writers = Array.from({ length: options.writersPerRound ?? 2 }, () =>
      runOneWriter(options.worker, label, ledger, options.roundTimeoutMs ?? 20_000),
    );
    for (const killed of await Promise.all(writers)) if (killed) kills++;
  }
  return { label, ledger, kills };
}

/** How {@link runWriterKillTest} sees the adapter's database. */
export interface WriterKillTestAccess {
  /** Names the run in its log line (`pg`, `mysql2`, …). */
  label: string;
  /** Every event row and each stream's head version, read with raw SQL. */
  rawLog(): Promise<{ rows: RawEventRow[]; heads: ReadonlyMap<string, number> }>;
  /** The whole log through the store once `count` events are readable. */
  readLog(count: number): Promise<PersistedEvent[]>;
}

/**
 * The adapters' writer-kill test: {@link runWriterKillScenario} (3 rounds of 2 writers) while a
 * projection runs; then every acknowledged append is in the log once with contiguous versions
 * (`assertLogInvariants`), the store reads it all back, and the projection applied every event
 * exactly once without a handler failure.
 */
export async function runWriterKillTest<Tx>(
  store: EventStore<Tx>,
  worker: CrashWorkerCommand,
  access: WriterKillTestAccess,
): Promise<void> {
  const projection = new ProjectionUnderFaults(store);
  try {
    await projection.start();
    const report = await runWriterKillScenario({ worker, rounds: 3, writersPerRound: 2 });
    const { rows, heads } = await access.rawLog();
    console.log(
      `${access.label}: ${report.kills} writers killed; ${report.ledger.acknowledged.size} events acknowledged, ${rows.length} in the log; stream versions out of log order: ${streamOrderInversions(rows)}`,
    );
    assert.equal(report.kills, 6);
    assertLogInvariants(rows, report.ledger, heads);
    const log = await access.readLog(rows.length);
    await projection.catchUp(log[log.length - 1]!.checkpoint, () =>
      store.transaction((tx) => store.getCheckpoint(tx, projection.name)),
    );
    await projection.assertExactlyOnce(log);
    assert.deepEqual(projection.failures, []);
  } finally {
    await projection.stop();
  }
}

/** One writer: started, killed after a few acknowledgements; resolves once it has exited. */
function runOneWriter(
  command: CrashWorkerCommand,
  label: string,
  ledger: FaultLedger,
  timeoutMs: number,
): Promise<boolean> {
  const child: ChildProcess = spawn(command.command, [...(command.args ?? [])], {
    cwd: command.cwd,
    env: { ...process.env, ...command.env, [WRITER_LABEL_ENV]: label },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => {
    child.once('exit', (code, signal) => resolve(signal ?? code));
  });
  let acks = 0;
  let killTimer: NodeJS.Timeout | undefined;
  const lines = createInterface({ input: child.stdout! });
  lines.on('line', (line) => {
    if (!line.startsWith(ACK)) return;
    for (const id of JSON.parse(line.slice(ACK.length)) as string[]) ledger.acknowledged.add(id);
    ledger.calls++;
    acks++;
    if (acks === 5) killTimer = setTimeout(() => child.kill('SIGKILL'), randomInt(0, 300));
  });
  const limit = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return exited.then((how) => {
    clearTimeout(limit);
    clearTimeout(killTimer);
    if (how !== 'SIGKILL') {
      throw new Error(`a writer exited with ${String(how)} before it was killed:\n${stderr}`);
    }
    if (acks < 5) throw new Error(`a writer acknowledged only ${acks} appends:\n${stderr}`);
    return true;
  });
}
