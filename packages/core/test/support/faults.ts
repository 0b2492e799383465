// Repository test plumbing shared by the adapters' fault tests (not part of the published suite):
// a ledger of what the calls made under faults were told, a mixed workload of writers and readers
// that fills it, the invariants the log must keep whatever the faults, and a projection run that
// must apply every event exactly once.
import assert from 'node:assert/strict';
import { randomInt, randomUUID } from 'node:crypto';
import { CheckpointTableReadModel } from '../../src/conformance/index.js';
import {
  ConnectionLostError,
  DatabaseError,
  OperationAbortedError,
  ProjectionError,
  PupError,
  StoreClosedError,
} from '../../src/errors.js';
import { ExpectedVersion } from '../../src/expected-version.js';
import { ProjectionProcessor } from '../../src/projection/processor.js';
import type { EventStore, NewEvent, PersistedEvent, StreamRef } from '../../src/types.js';

/** Every code a `PupError` may carry, with the class that carries it. */
const CLASS_OF_CODE: Record<string, string> = {
  OPTIMISTIC_CONCURRENCY: 'OptimisticConcurrencyError',
  NO_EVENTS: 'NoEventsError',
  INVALID_EVENT: 'InvalidEventError',
  DUPLICATE_EVENT_ID: 'DuplicateEventIdError',
  INVALID_ARGUMENT: 'InvalidArgumentError',
  INVALID_CONFIG: 'InvalidConfigError',
  PROJECTION_FAILED: 'ProjectionError',
  STORE_CLOSED: 'StoreClosedError',
  DATABASE_ERROR: 'DatabaseError',
  CONNECTION_LOST: 'ConnectionLostError',
  ABORTED: 'OperationAbortedError',
  SCHEMA_VERSION: 'SchemaVersionError',
  INVALID_STORED_EVENT: 'InvalidStoredEventError',
};

/**
 * Asserts that `error` is a `PupError` whose class and `code` belong together (a subclass of the
 * code's class, such as `MysqlServerVersionError`, passes too), and returns it.
 */
export function assertTypedError(error: unknown, what = 'error'): PupError {
  assert.ok(
    error instanceof PupError,
    `${what}: expected a PupError, got ${describeError(error)}${
      error instanceof Error && error.stack ? `\n${error.stack}` : ''
    }`,
  );
  const expectedClass = CLASS_OF_CODE[error.code];
  assert.ok(expectedClass !== undefined, `${what}: unknown code ${error.code}`);
  let proto: object | null = Object.getPrototypeOf(error);
  const chain: string[] = [];
  while (proto !== null && proto !== Error.prototype) {
    chain.push((proto as { constructor: { name: string } }).constructor.name);
    proto = Object.getPrototypeOf(proto);
  }
  assert.ok(
    chain.includes(expectedClass),
    `${what}: code ${error.code} on a ${chain[0]}, expected a ${expectedClass}`,
  );
  return error;
}

function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.constructor.name}: ${error.message}`;
  return String(error);
}

/** Whether a failed call may still have committed (the answer to its COMMIT was lost). */
export function mayHaveCommitted(error: unknown): boolean {
  return (
    (error instanceof ConnectionLostError || error instanceof OperationAbortedError) &&
    error.commitUnknown
  );
}

/** What the calls made under faults were told, by event id. */
export class FaultLedger {
  /** Appended events whose call resolved: each must be in the log exactly once. */
  readonly acknowledged = new Set<string>();
  /** Events of calls that failed without any doubt about their commit: none may be in the log. */
  readonly rejected = new Set<string>();
  /** Events of calls whose COMMIT outcome is unknown: in the log at most once. */
  readonly unknown = new Set<string>();
  /** How many failures of each error class (and code) the calls saw. */
  readonly errors = new Map<string, number>();
  /** Calls made, resolved or not. */
  calls = 0;

  /**
   * Runs one call that appends `eventIds` (all or nothing) and files its outcome; a rejection
   * must be a typed pup error. Returns whether it resolved.
   */
  async record<T>(eventIds: readonly string[], call: () => Promise<T>): Promise<boolean> {
    this.calls++;
    try {
      await call();
      for (const id of eventIds) this.acknowledged.add(id);
      return true;
    } catch (error) {
      this.fail(error);
      const target = mayHaveCommitted(error) ? this.unknown : this.rejected;
      for (const id of eventIds) target.add(id);
      return false;
    }
  }

  /** Files the failure of a call that wrote nothing (a read, say); it must be typed. */
  fail(error: unknown): void {
    const typed = assertTypedError(error);
    const key = `${typed.constructor.name}(${typed.code}${
      typed instanceof DatabaseError && typed.transient ? ', transient' : ''
    }${mayHaveCommitted(typed) ? ', commitUnknown' : ''})`;
    this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
    if (!this.examples.has(key)) this.examples.set(key, typed);
  }

  /** The first error of each kind in {@link errors}. */
  readonly examples = new Map<string, PupError>();

  /** One line for the test's output. */
  summary(): string {
    const errors = [...this.errors].map(([key, n]) => `${n} ${key}`).join(', ');
    return `${this.calls} calls, ${this.acknowledged.size} events acknowledged, ${this.rejected.size} rejected, ${this.unknown.size} unknown; errors: ${errors || 'none'}`;
  }
}

/** An event row of the log as read back through raw SQL (an independent path). */
export interface RawEventRow {
  /** `boundedContext/aggregateType/aggregateId`. */
  stream: string;
  aggregateVersion: number;
  eventId: string;
  globalPosition: number;
}

/**
 * The invariants the log keeps whatever faults happened: event ids unique, each stream's versions
 * 1..n without gap or repeat, positions unique; every
 * acknowledged append in it exactly once, nothing of a failed one (unless its COMMIT outcome is
 * unknown). `heads` (stream → version), when given, must match each stream's last version.
 */
export function assertLogInvariants(
  rows: readonly RawEventRow[],
  ledger: FaultLedger,
  heads?: ReadonlyMap<string, number>,
): void {
  const ids = new Map<string, number>();
  const positions = new Set<number>();
  const streams = new Map<string, RawEventRow[]>();
  for (const row of rows) {
    ids.set(row.eventId, (ids.get(row.eventId) ?? 0) + 1);
    assert.ok(!positions.has(row.globalPosition), `position ${row.globalPosition} used twice`);
    positions.add(row.globalPosition);
    let events = streams.get(row.stream);
    if (events === undefined) {
      events = [];
      streams.set(row.stream, events);
    }
    events.push(row);
  }
  for (const [id, count] of ids) assert.equal(count, 1, `event ${id} is in the log ${count} times`);
  for (const [stream, events] of streams) {
    events.sort((a, b) => a.aggregateVersion - b.aggregateVersion);
    events.forEach((event, i) => {
      assert.equal(event.aggregateVersion, i + 1, `stream ${stream}: versions are not 1..n`);
    });
    if (heads !== undefined) {
      assert.equal(heads.get(stream), events.length, `stream ${stream}: head version`);
    }
  }
  if (heads !== undefined) {
    for (const [stream, version] of heads) {
      assert.equal(streams.get(stream)?.length ?? 0, version, `stream ${stream}: head row`);
    }
  }
  for (const id of ledger.acknowledged) {
    assert.equal(ids.get(id), 1, `acknowledged event ${id} is not in the log`);
  }
  for (const id of ledger.rejected) {
    assert.equal(ids.get(id), undefined, `event ${id} of a failed call is in the log`);
  }
}

/**
 * How many times a stream's version n+1 lies before its version n in the log (by global
 * position). Not part of the contract today (see the fault tests' report); counted so that it
 * shows.
 */
export function streamOrderInversions(rows: readonly RawEventRow[]): number {
  const byStream = new Map<string, RawEventRow[]>();
  for (const row of rows) {
    const list = byStream.get(row.stream) ?? [];
    list.push(row);
    byStream.set(row.stream, list);
  }
  let inversions = 0;
  for (const list of byStream.values()) {
    list.sort((a, b) => a.aggregateVersion - b.aggregateVersion);
    for (let i = 1; i < list.length; i++) {
      if (list[i]!.globalPosition < list[i - 1]!.globalPosition) inversions++;
    }
  }
  return inversions;
}

/** Options of {@link runFaultWorkload}. */
export interface FaultWorkloadOptions {
  /** Concurrent writers. @default 4 */
  writers?: number;
  /** Streams they share. @default 6 */
  streams?: number;
  /** How long the workload runs, in milliseconds. */
  durationMs: number;
  /** Labels the workload's streams (one bounded context per workload). */
  label?: string;
  /** Gives every store transaction this timeout, so a stalled driver cannot hang a writer. */
  transactionTimeoutMs?: number;
}

/** What {@link runFaultWorkload} did. */
export interface FaultWorkloadReport {
  /** Reads made (pages of `readEvents` and stream reads inside transactions) that came back. */
  reads: number;
}

/**
 * Writers and a tailing reader working on one store for `durationMs`, filing every outcome in
 * `ledger`: store transactions that read a stream and append at its exact version (also across
 * two streams, and some rolled back on purpose), `appendToStream` with `any()`, appends made on
 * the caller's handle outside a transaction... Every rejection must be a typed pup error; a
 * tailing reader checks that pages never go back or repeat an event. Faults come from outside
 * (the caller kills connections meanwhile).
 */
export async function runFaultWorkload<Tx>(
  store: EventStore<Tx>,
  ledger: FaultLedger,
  options: FaultWorkloadOptions,
): Promise<FaultWorkloadReport> {
  const label = options.label ?? `faults-${randomUUID().slice(0, 8)}`;
  const streams: StreamRef[] = Array.from({ length: options.streams ?? 6 }, (_, i) => ({
    boundedContext: label,
    aggregateType: 'Account',
    aggregateId: `account-${i}`,
  }));
  const deadline = performance.now() + options.durationMs;
  const transactionOptions =
    options.transactionTimeoutMs === undefined
      ? undefined
      : { timeoutMs: options.transactionTimeoutMs };
  let reads = 0;
  const events = (stream: StreamRef, count: number): NewEvent[] =>
    Array.from({ length: count }, (_, n) => ({
      ...stream,
      eventId: randomUUID(),
      eventType: 'Deposited',
      payload: { n, amount: randomInt(1, 1000) },
    }));
  const ids = (list: readonly NewEvent[]) => list.map((e) => e.eventId!);
  const pick = () => streams[randomInt(streams.length)]!;

  const writer = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const kind = randomInt(5);
      if (kind === 0) {
        // Read the stream, append at its exact version.
        const stream = pick();
        const batch = events(stream, randomInt(1, 4));
        await ledger.record(ids(batch), () =>
          store.transaction(async (tx) => {
            const current = await store.readAggregateStream(tx, stream);
            reads++;
            await store.append(tx, ExpectedVersion.exact(current.version), batch);
          }, transactionOptions),
        );
      } else if (kind === 1) {
        // Two streams in one transaction: all or nothing.
        const first = events(pick(), 1);
        const second = events(pick(), 2);
        await ledger.record([...ids(first), ...ids(second)], () =>
          store.transaction(async (tx) => {
            await store.append(tx, ExpectedVersion.any(), first);
            await store.append(tx, ExpectedVersion.any(), second);
          }, transactionOptions),
        );
      } else if (kind === 2) {
        const batch = events(pick(), randomInt(1, 3));
        await ledger.record(ids(batch), () => store.appendToStream(ExpectedVersion.any(), batch));
      } else if (kind === 3) {
        // Rolled back on purpose after its append: never in the log.
        const batch = events(pick(), 1);
        const planned = new Error('planned rollback');
        ledger.calls++;
        try {
          await store.transaction(async (tx) => {
            await store.append(tx, ExpectedVersion.any(), batch);
            throw planned;
          }, transactionOptions);
        } catch (error) {
          if (error !== planned) {
            ledger.fail(error);
            if (mayHaveCommitted(error)) {
              // Only a commit that was never sent... but a typed doubt is still allowed.
              for (const id of ids(batch)) ledger.unknown.add(id);
              continue;
            }
          }
        }
        for (const id of ids(batch)) ledger.rejected.add(id);
      } else {
        // An append that is not exact: streamExists on a stream that may not exist yet.
        const stream = pick();
        const batch = events(stream, 1);
        await ledger.record(ids(batch), () =>
          store.transaction(
            (tx) => store.append(tx, ExpectedVersion.streamExists(), batch),
            transactionOptions,
          ),
        );
      }
    }
  };

  const reader = async (): Promise<void> => {
    let after: string | null = null;
    let lastPosition = -1;
    const seen = new Set<string>();
    while (performance.now() < deadline) {
      try {
        const page: PersistedEvent[] = await store.transaction(
          (tx) => store.readEvents(tx, { after, limit: 50 }),
          transactionOptions,
        );
        reads++;
        for (const event of page) {
          assert.ok(!seen.has(event.eventId), `the reader saw event ${event.eventId} twice`);
          seen.add(event.eventId);
          assert.ok(event.globalPosition !== lastPosition, 'the reader saw a position twice');
          lastPosition = event.globalPosition;
          after = event.checkpoint;
        }
        if (page.length === 0) await sleep(5);
      } catch (error) {
        ledger.calls++;
        ledger.fail(error);
      }
    }
  };

  await Promise.all([...Array.from({ length: options.writers ?? 4 }, () => writer()), reader()]);
  return { reads };
}

/**
 * Starts `kill` every 20–`maxPauseMs` ms until the returned `stop` is called; `stop` resolves with
 * how many kills hit something. A failing kill fails the test (it is only ever our own backend).
 */
export function startKilling(
  kill: () => Promise<boolean>,
  maxPauseMs = 120,
): { stop: () => Promise<number> } {
  let running = true;
  let kills = 0;
  const loop = (async () => {
    while (running) {
      await sleep(randomInt(20, maxPauseMs));
      if (!running) break;
      if (await kill()) kills++;
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return kills;
    },
  };
}

/** Options of {@link ProjectionUnderFaults}. */
export interface ProjectionUnderFaultsOptions {
  /** Batch size of the processor. @default 20 */
  batchSize?: number;
}

/**
 * A projection whose read model lives in the checkpoints table (see `CheckpointTableReadModel`),
 * run by processors that retry transient batch failures quickly. `restart()` stops the running
 * processor (abort) and starts another one, as a restarted worker would; `catchUp()` runs until
 * the checkpoint reaches the end of the log, and `assertExactlyOnce()` checks every event of the
 * log was applied once.
 */
export class ProjectionUnderFaults<Tx> {
  readonly name = `faults-projection-${randomUUID().slice(0, 8)}`;
  readonly readModel: CheckpointTableReadModel<Tx>;
  private controller: AbortController | undefined;
  private running: Promise<void> | undefined;
  /** Runs started (the first, and one per restart). */
  runs = 0;
  /** Failed runs, by error (each must be typed). */
  readonly failures: PupError[] = [];

  constructor(
    private readonly store: EventStore<Tx>,
    private readonly options: ProjectionUnderFaultsOptions = {},
  ) {
    this.readModel = new CheckpointTableReadModel(store, `${this.name}-rm`);
  }

  /** Starts a processor (stopping the one running first). */
  async start(): Promise<void> {
    await this.stop();
    const controller = new AbortController();
    this.controller = controller;
    this.running = this.supervise(controller.signal);
  }

  /** Runs processors until `signal` aborts; a failed run is restarted, as a supervisor would. */
  private async supervise(signal: AbortSignal): Promise<void> {
    const readModel = this.readModel;
    const projection = {
      name: this.name,
      handle: (event: PersistedEvent, { tx }: { tx: Tx }) => readModel.apply(tx, event),
    };
    while (!signal.aborted) {
      this.runs++;
      const processor = new ProjectionProcessor(this.store, {
        batchSize: this.options.batchSize ?? 20,
        pollIntervalMs: 20,
        retry: { initialDelayMs: 5, maxDelayMs: 50, maxRetries: 10_000 },
      });
      try {
        await processor.run(projection, { signal });
        return;
      } catch (error) {
        this.failures.push(assertTypedError(error, 'projection run'));
        if (error instanceof StoreClosedError) return;
        await sleep(20);
      }
    }
  }

  /** Stops the running processor and waits for it. */
  async stop(): Promise<void> {
    this.controller?.abort();
    await this.running;
    this.running = undefined;
  }

  /**
   * Runs (restarting when needed) until the projection's checkpoint is `target`, within
   * `timeoutMs`, then stops.
   */
  async catchUp(target: string, read: () => Promise<string | null>, timeoutMs = 20_000) {
    if (this.running === undefined) await this.start();
    const until = performance.now() + timeoutMs;
    for (;;) {
      let checkpoint: string | null = null;
      try {
        checkpoint = await read();
      } catch {
        // The check's own connection may be gone too: try again.
      }
      if (checkpoint === target) break;
      assert.ok(
        performance.now() < until,
        `${this.name}: checkpoint ${checkpoint} never reached ${target}`,
      );
      await sleep(20);
    }
    await this.stop();
  }

  /** Asserts that every event of `log` was applied exactly once. */
  async assertExactlyOnce(log: readonly PersistedEvent[]): Promise<void> {
    await this.readModel.assertApplied(log, () => true, this.name);
  }

  /** Handler failures among the runs' failures (a lost connection must never be one). */
  handlerFailures(): ProjectionError[] {
    return this.failures.filter((f): f is ProjectionError => f instanceof ProjectionError);
  }
}

/** Reads the whole log through `store` (in pages), in a transaction per page. */
export async function readWholeLog<Tx>(store: EventStore<Tx>): Promise<PersistedEvent[]> {
  const log: PersistedEvent[] = [];
  let after: string | null = null;
  for (;;) {
    const page: PersistedEvent[] = await store.transaction((tx) =>
      store.readEvents(tx, { after, limit: 1000 }),
    );
    log.push(...page);
    if (page.length < 1000) return log;
    after = page[page.length - 1]!.checkpoint;
  }
}

/** Runs `read` until it succeeds, up to `attempts` times (the store's connections are being killed). */
export async function retried<T>(read: () => Promise<T>, attempts = 20): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (error) {
      assertTypedError(error);
      if (attempt >= attempts) throw error;
      await sleep(20);
    }
  }
}

/**
 * Reads the whole log (retrying failed reads) until it holds `count` events, for up to 15 s: a
 * killed session's transaction may hold readers back until the server notices. `holdBack`
 * describes what still holds them back when the time is up. Fails unless exactly `count` are read.
 */
export async function readLogOnceVisible<Tx>(
  store: EventStore<Tx>,
  count: number,
  holdBack?: () => Promise<unknown>,
): Promise<PersistedEvent[]> {
  const until = performance.now() + 15_000;
  for (;;) {
    const log = await retried(() => readWholeLog(store));
    if (log.length >= count) {
      assert.equal(log.length, count, 'the log reads back every event of the table, once');
      return log;
    }
    if (performance.now() > until) {
      const holder =
        holdBack === undefined ? '' : `; held back by ${JSON.stringify(await holdBack())}`;
      throw new Error(`only ${log.length} of ${count} events readable after 15 s${holder}`);
    }
    await sleep(50);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** What {@link runLockTimeoutScenario} asks of the adapter's test. */
export interface LockTimeoutScenario<Tx> {
  /** The database settings to try, one transaction each (`lock_timeout`, …). */
  settings: readonly string[];
  /**
   * Applies `setting` to the transaction `tx` (short enough to end a lock wait in well under a
   * second); may return what undoes it on the connection, run after the blocked append.
   */
  limit(tx: Tx, setting: string): Promise<(() => Promise<void>) | undefined>;
  /** Every event row and each stream's head version, read with raw SQL. */
  rawLog(): Promise<{ rows: RawEventRow[]; heads: ReadonlyMap<string, number> }>;
  /** The n-th event of stream `aggregateId` (bounded context `faults`, type `Thing`). */
  event(aggregateId: string, n?: number): NewEvent;
}

/**
 * A database timeout ends an append waiting for a stream's head lock: one transaction holds
 * stream `locked`'s head; for each setting, a transaction appends to stream `other`, applies the
 * setting and appends to `locked` (waiting for the lock until the timeout). Once the holder
 * commits, every blocked transaction has rejected with a typed error and nothing of it is in the
 * log: only `locked` 1 and 2. Resolves with each setting's error for the adapter's own checks.
 */
export async function runLockTimeoutScenario<Tx>(
  store: EventStore<Tx>,
  scenario: LockTimeoutScenario<Tx>,
): Promise<Record<string, unknown>> {
  const { event } = scenario;
  await store.appendToStream(ExpectedVersion.noStream(), [event('locked')]);
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let locked!: () => void;
  const isLocked = new Promise<void>((resolve) => {
    locked = resolve;
  });
  // Holds the stream's head row until released.
  const holder = store.transaction(async (tx) => {
    await store.append(tx, ExpectedVersion.exact(1), [event('locked', 1)]);
    locked();
    await released;
  });
  await isLocked;
  const blocked: Record<string, unknown> = {};
  for (const setting of scenario.settings) {
    blocked[setting] = await store
      .transaction(async (tx) => {
        await store.append(tx, ExpectedVersion.any(), [event('other')]);
        const undo = await scenario.limit(tx, setting);
        try {
          await store.append(tx, ExpectedVersion.any(), [event('locked', 2)]);
        } finally {
          await undo?.();
        }
      })
      .then(
        () => assert.fail(`the append under ${setting} waited for the lock and succeeded`),
        (error: unknown) => error,
      );
  }
  release();
  await holder;
  for (const [setting, error] of Object.entries(blocked)) assertTypedError(error, setting);
  const { rows, heads } = await scenario.rawLog();
  assert.deepEqual(
    rows.map((r) => [r.stream, r.aggregateVersion]),
    [
      ['faults/Thing/locked', 1],
      ['faults/Thing/locked', 2],
    ],
  );
  assert.equal(heads.get('faults/Thing/other'), undefined);
  return blocked;
}

/** How a lock-wait scenario sees the database (its own connections only). */
export interface LockWaitProbe {
  /** Resolves once one of the store's connections waits for a lock (`true`) or none does. */
  waitForLockWait(waiting: boolean): Promise<void>;
}

/**
 * A processor whose batch waits for another worker's checkpoint lock stops within 500 ms of its
 * signal aborting, handles nothing, leaves no connection waiting for the lock, and a new run
 * later handles every event exactly once. `event(label, n)` makes the n-th event of one stream.
 */
export async function runLockWaitAbortScenario<Tx>(
  store: EventStore<Tx>,
  probe: LockWaitProbe,
  event: (label: string, n: number) => NewEvent,
): Promise<void> {
  const name = `lock-wait-${randomUUID().slice(0, 8)}`;
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let holder: Promise<unknown> | undefined;
  try {
    const appended = await store.appendToStream(
      ExpectedVersion.noStream(),
      Array.from({ length: 5 }, (_, n) => event('lock-wait', n)),
    );
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => {
      locked = resolve;
    });
    // Another worker of the same projection holds its checkpoint lock.
    holder = store.transaction(async (tx) => {
      await store.getCheckpoint(tx, name, { lock: true });
      locked();
      await released;
    });
    await isLocked;
    const handled: number[] = [];
    const abort = new AbortController();
    const run = new ProjectionProcessor(store, { pollIntervalMs: 20 }).run(
      { name, handle: (e) => void handled.push(e.globalPosition) },
      { signal: abort.signal },
    );
    await probe.waitForLockWait(true);
    const started = performance.now();
    abort.abort();
    await run;
    const stoppedMs = performance.now() - started;
    assert.ok(stoppedMs < 500, `the run stopped ${Math.round(stoppedMs)} ms after the abort`);
    assert.equal(handled.length, 0, 'no event was handled by the aborted run');
    // The given-up statement is interrupted: no connection of the store waits any more.
    await probe.waitForLockWait(false);
    release();
    await holder;
    assert.equal(await store.transaction((tx) => store.getCheckpoint(tx, name)), null);
    // A new run takes the lock and handles every event once.
    const again = new AbortController();
    const rerun = new ProjectionProcessor(store, { pollIntervalMs: 20 }).run(
      { name, handle: (e) => void handled.push(e.globalPosition) },
      { signal: again.signal },
    );
    const last = appended.events[4]!.checkpoint;
    const until = performance.now() + 10_000;
    while ((await store.transaction((tx) => store.getCheckpoint(tx, name))) !== last) {
      assert.ok(performance.now() < until, 'the new run did not catch up within 10 s');
      await sleep(20);
    }
    again.abort();
    await rerun;
    assert.deepEqual(handled, appended.globalPositions);
  } finally {
    release();
    await holder?.catch(() => undefined);
  }
}
