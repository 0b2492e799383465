// Repository test plumbing shared by the adapters' property tests (not part of the published
// suite): fast-check generates sequences of operations (appends with every ExpectedVersion kind
// and hostile input, reads, checkpoints), runs them against a store and against a small model
// of the store contract, and compares every outcome: the same accept/reject decision and error
// class (with its index, field or actual version), the same events read back, contiguous
// versions. Every adapter runs the same property, so all adapters agree with each other too.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { PupError } from '../../src/errors.js';
import { ExpectedVersion } from '../../src/expected-version.js';
import { inputLimits } from '../../src/input-limits.js';
import type {
  AppendResult,
  EventStore,
  NewEvent,
  PersistedEvent,
  StreamRef,
} from '../../src/types.js';

// ---------------------------------------------------------------------------------------------
// Generated input

/** Texts chosen to break stores that the contract accepts: look-alikes, case, SQL, limits. */
const TRICKY_TEXT = [
  'a',
  'A',
  'a ',
  ' a',
  'é', // NFC
  'e\u0301', // NFD: another id
  '😀',
  'Ω≈ç√',
  "'; DROP TABLE events; --",
  '%_\\',
  'z'.repeat(255),
  'ü'.repeat(255),
];
/** Texts the contract rejects: NUL, lone surrogates, too long. */
const INVALID_TEXT = ['x\u0000y', '\u0000', 'a\ud800', '\udc00b', 'z'.repeat(256)];

const textArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...TRICKY_TEXT) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 6 }) },
  { weight: 1, arbitrary: fc.constantFrom(...INVALID_TEXT) },
);

/** Mostly `valid`, sometimes `invalid`. */
function mostly(valid: string[], invalid: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(...valid) },
    { weight: 1, arbitrary: fc.constantFrom(...invalid) },
  );
}

/** One defect at most per append, so the expected error is unambiguous. */
const DEFECTS = [
  'eventType-nul',
  'eventType-long',
  'eventType-surrogate',
  'eventId-malformed',
  'eventId-twice-in-call',
  'eventId-stored',
  'eventVersion-too-big',
  'eventVersion-zero',
  'createdAt-too-early',
  'createdAt-invalid',
  'traceId-long',
  'causationId-nul',
  'metadata-nul-value',
  'metadata-surrogate-key',
] as const;
type Defect = (typeof DEFECTS)[number];

interface EventSpec {
  eventType: string;
  payload: unknown;
  metadata: Record<string, unknown> | null;
  /** `fresh`: a new id; `upper`: a new id in upper case; `generated`: none given. */
  eventId: 'fresh' | 'upper' | 'generated';
  eventVersion: number | undefined;
  traceId: string | null;
}

type ExpectedSpec =
  | { kind: 'any' | 'noStream' | 'streamExists' }
  | { kind: 'exact'; offset: number }
  | { kind: 'exact0' };

type Op =
  | {
      op: 'append';
      stream: number;
      expected: ExpectedSpec;
      events: EventSpec[];
      defect: { kind: Defect; index: number } | null;
      via: 'transaction' | 'appendToStream' | 'caught' | 'rolledBack';
    }
  | { op: 'readStream'; stream: number; from: number | undefined; to: number | undefined }
  | { op: 'readEvents'; after: number; limit: number }
  | { op: 'saveCheckpoint'; name: number; checkpoint: number | string }
  | { op: 'getCheckpoint'; name: number };

const payloadArb = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom('\u0000', 'a\ud800', { s: '\udfff' }, [null, -0, 1e21, 5e-324]),
);

const metadataArb = fc.option(
  fc.dictionary(
    fc.oneof(fc.constantFrom('k', 'ключ', '😀', 'trace'), fc.string({ maxLength: 5 })),
    fc.oneof(fc.string({ unit: 'binary', maxLength: 5 }), fc.integer(), fc.boolean()),
    { maxKeys: 3, noNullPrototype: true },
  ),
  { nil: null },
);

const eventSpecArb: fc.Arbitrary<EventSpec> = fc.record({
  eventType: fc.constantFrom('Happened', 'Déjà-vu', '😀', 'x'.repeat(255)),
  payload: payloadArb,
  metadata: metadataArb,
  eventId: fc.constantFrom('fresh', 'upper', 'generated'),
  eventVersion: fc.constantFrom(undefined, 1, 7, inputLimits.maxEventVersion),
  traceId: fc.constantFrom(null, 'trace-1', 't'.repeat(255)),
});

const expectedArb: fc.Arbitrary<ExpectedSpec> = fc.oneof(
  fc.constantFrom(
    { kind: 'any' },
    { kind: 'noStream' },
    { kind: 'streamExists' },
    {
      kind: 'exact0',
    },
  ) as fc.Arbitrary<ExpectedSpec>,
  fc.record({ kind: fc.constant('exact' as const), offset: fc.integer({ min: -1, max: 1 }) }),
);

function opArb(streams: number, names: number): fc.Arbitrary<Op> {
  const stream = fc.nat({ max: streams - 1 });
  return fc.oneof(
    {
      weight: 6,
      arbitrary: fc
        .record({
          op: fc.constant('append' as const),
          stream,
          expected: expectedArb,
          events: fc.array(eventSpecArb, { minLength: 1, maxLength: 3 }),
          defect: fc.oneof(
            { weight: 3, arbitrary: fc.constant(null) },
            {
              weight: 1,
              arbitrary: fc.record({
                kind: fc.constantFrom(...DEFECTS),
                index: fc.nat({ max: 2 }),
              }),
            },
          ),
          via: fc.constantFrom('transaction', 'appendToStream', 'caught', 'rolledBack'),
        })
        .map((op) =>
          op.defect === null
            ? op
            : { ...op, defect: { ...op.defect, index: op.defect.index % op.events.length } },
        ),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('readStream' as const),
        stream,
        from: fc.option(fc.nat({ max: 4 }), { nil: undefined }),
        to: fc.option(fc.nat({ max: 4 }), { nil: undefined }),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('readEvents' as const),
        after: fc.integer({ min: -1, max: 8 }),
        limit: fc.integer({ min: 1, max: 5 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant('saveCheckpoint' as const),
        name: fc.nat({ max: names - 1 }),
        checkpoint: fc.oneof(
          fc.nat({ max: 8 }),
          fc.constantFrom('abc', '-1', '1; DROP TABLE events', '\u0000', 'a\ud800'),
        ),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant('getCheckpoint' as const),
        name: fc.nat({ max: names - 1 }),
      }),
    },
  );
}

/** A run: its streams (hostile parts), its projection names, its operations. */
interface Scenario {
  streams: { boundedContext: string; aggregateType: string; aggregateId: string }[];
  names: string[];
  ops: Op[];
}

const STREAMS = 3;
const NAMES = 3;

const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  streams: fc.array(
    fc.record({
      boundedContext: mostly(
        ['', '-ctx', '-Ctx', '-é'],
        ['-\u0000', '-\ud800', `-${'c'.repeat(90)}`],
      ),
      aggregateType: mostly(
        ['Order', 'order', 'Ordér', 'T'.repeat(100)],
        ['T\u0000', 'T'.repeat(101)],
      ),
      aggregateId: textArb,
    }),
    { minLength: STREAMS, maxLength: STREAMS },
  ),
  names: fc.array(
    mostly(['p', 'P', 'p ', 'é', '😀', 'n'.repeat(240)], ['', '\u0000', '\ud800', 'n'.repeat(250)]),
    {
      minLength: NAMES,
      maxLength: NAMES,
    },
  ),
  ops: fc.array(opArb(STREAMS, NAMES), { minLength: 4, maxLength: 14 }),
});

// ---------------------------------------------------------------------------------------------
// The model

/** Whether a text has a NUL character or a lone surrogate. */
function badText(value: string): boolean {
  if (value.includes('\u0000')) return true;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = value.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return true;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) return true;
  }
  return false;
}

/** Whether a name or id breaks the input contract: empty, too long, or bad text. */
function textInvalid(value: string, maxLength: number): boolean {
  return value.length === 0 || value.length > maxLength || badText(value);
}

function metadataInvalid(value: unknown): boolean {
  if (typeof value === 'string') return badText(value);
  if (Array.isArray(value)) return value.some(metadataInvalid);
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).some(([k, v]) => badText(k) || metadataInvalid(v));
  }
  return false;
}

const STREAM_LIMITS = {
  boundedContext: inputLimits.maxBoundedContextLength,
  aggregateType: inputLimits.maxAggregateTypeLength,
  aggregateId: inputLimits.maxAggregateIdLength,
} as const;

/** What a call came to: a value, or an error described by what the contract fixes. */
type Outcome = { ok: unknown } | { error: Record<string, unknown> };

function describeFailure(error: unknown): Record<string, unknown> {
  assert.ok(
    error instanceof PupError,
    `expected a PupError, got ${error instanceof Error ? `${error.constructor.name}: ${error.message}` : String(error)}`,
  );
  const e = error as unknown as Record<string, unknown>;
  const described: Record<string, unknown> = { class: error.constructor.name, code: error.code };
  for (const key of ['index', 'field', 'actualVersion', 'argument']) {
    if (e[key] !== undefined) described[key] = e[key];
  }
  return described;
}

interface ModelEvent {
  streamKey: string;
  eventId: string;
  version: number;
  eventType: string;
  eventVersion: number;
  payload: unknown;
  metadata: unknown;
  traceId: string | null;
}

function normalize(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

const keyOf = (s: StreamRef) => JSON.stringify([s.boundedContext, s.aggregateType, s.aggregateId]);

// ---------------------------------------------------------------------------------------------
// The property

/** Options of {@link checkStoreAgainstModel}. */
export interface StorePropertyOptions {
  /** Runs (scenarios). */
  numRuns: number;
  /**
   * Reads may lag behind commits (PostgreSQL: the cluster-wide horizon): `readEvents` must then
   * return a prefix of what the model says, and the whole log must match once visible.
   */
  readsMayLag?: boolean;
  /**
   * An append that fails in the database (an event id stored already) aborts the transaction it
   * ran in, so a transaction that catches the error and goes on fails at COMMIT with a
   * `DatabaseError` (PostgreSQL, documented there). Elsewhere it goes on and commits.
   */
  failedStatementAbortsTransaction?: boolean;
  /** fast-check seed, to replay a failure. */
  seed?: number;
}

/**
 * Runs `numRuns` generated scenarios on `store` (one migrated store for all: every scenario
 * works in a bounded context and projection names of its own, and reads the log after the last
 * event of the scenarios before it) and compares each operation's outcome with the model's.
 */
export async function checkStoreAgainstModel<Tx>(
  store: EventStore<Tx>,
  options: StorePropertyOptions,
): Promise<void> {
  let run = 0;
  await fc.assert(
    fc.asyncProperty(scenarioArb, async (scenario) => {
      run++;
      const prefix = `p${run}-${randomUUID().slice(0, 8)}`;
      // Where the log ends now, whatever the runs before (also failed ones) left in it.
      const base = await headCheckpoint(store);
      await runScenario(store, scenario, prefix, base, options);
    }),
    { numRuns: options.numRuns, seed: options.seed },
  );
  if (process.env.PUP_PROPERTY_STATS) {
    console.log(
      [...stats]
        .sort()
        .map(([k, n]) => `${n} ${k}`)
        .join('\n'),
    );
  }
  stats.clear();
}

async function runScenario<Tx>(
  store: EventStore<Tx>,
  scenario: Scenario,
  prefix: string,
  base: string | null,
  options: StorePropertyOptions,
): Promise<void> {
  const streams: StreamRef[] = scenario.streams.map((s) => ({
    boundedContext: `${prefix}${s.boundedContext}`,
    aggregateType: s.aggregateType,
    aggregateId: s.aggregateId,
  }));
  const names = scenario.names.map((n) => (n === '' ? '' : `${prefix}${n}`));
  const side: StreamRef = { boundedContext: prefix, aggregateType: 'Side', aggregateId: 'side' };
  const model = {
    streams: new Map<string, ModelEvent[]>(),
    log: [] as ModelEvent[],
    checkpointOf: [] as string[],
    checkpoints: new Map<string, string>(),
  };
  const version = (s: StreamRef) => model.streams.get(keyOf(s))?.length ?? 0;

  for (const [step, op] of scenario.ops.entries()) {
    const where = `${prefix} step ${step} (${JSON.stringify(op)})`;
    if (op.op === 'append') {
      const stream = streams[op.stream]!;
      const current = version(stream);
      const expected = buildExpected(op.expected, current);
      const { events, eventIds } = buildEvents(stream, op, model.log);
      const { outcome: predicted, failsStatement } = predictAppend(
        stream,
        expected,
        current,
        events,
        model.log,
      );
      let caughtCommit: Outcome | undefined;
      const call = async (): Promise<AppendResult> => {
        switch (op.via) {
          case 'appendToStream':
            return store.appendToStream(expected, events);
          case 'transaction':
            return store.transaction((tx) => store.append(tx, expected, events));
          case 'rolledBack': {
            const planned = new Error('planned rollback');
            let appended: AppendResult | undefined;
            try {
              await store.transaction(async (tx) => {
                appended = await store.append(tx, expected, events);
                throw planned;
              });
            } catch (error) {
              if (error !== planned) throw error;
            }
            if (appended === undefined) throw new Error('unreachable');
            return appended;
          }
          case 'caught': {
            // The append's failure is caught and the transaction goes on, appends to another
            // stream and commits: nothing of the failed append may remain.
            let failure: unknown;
            let appended: AppendResult | undefined;
            caughtCommit = await settle(() =>
              store.transaction(async (tx) => {
                try {
                  appended = await store.append(tx, expected, events);
                } catch (error) {
                  failure = error;
                }
                await store.append(tx, ExpectedVersion.any(), [
                  { ...side, eventType: 'SideEffect', payload: { step } },
                ]);
              }),
            );
            if (failure !== undefined) throw failure;
            return appended!;
          }
        }
      };
      const outcome = await settle(call);
      count(`append ${op.via}: ${'ok' in outcome ? 'ok' : String(outcome.error.class)}`);
      assert.deepEqual(describeOutcome(outcome), describeOutcome(predicted), where);
      if ('ok' in outcome) {
        const result = outcome.ok as AppendResult;
        assert.equal(result.fromVersion, current, `${where}: fromVersion`);
        assert.equal(result.toVersion, current + events.length, `${where}: toVersion`);
        result.events.forEach((event, i) => {
          assert.equal(event.aggregateVersion, current + i + 1, `${where}: versions`);
          if (eventIds[i] !== undefined) assert.equal(event.eventId, eventIds[i], `${where}: id`);
        });
        for (let i = 1; i < result.globalPositions.length; i++) {
          assert.ok(result.globalPositions[i]! > result.globalPositions[i - 1]!, where);
        }
        if (op.via !== 'rolledBack') {
          const last = model.checkpointOf[model.checkpointOf.length - 1];
          if (last !== undefined) {
            assert.ok(result.events[0]!.checkpoint > last, `${where}: checkpoints increase`);
          }
          apply(model, stream, events, result);
        }
      }
      if (op.via === 'caught') {
        const sideResult = await store.transaction((tx) => store.readAggregateStream(tx, side));
        const sideEvents = model.streams.get(keyOf(side)) ?? [];
        const added = sideResult.events.slice(sideEvents.length);
        if (failsStatement && options.failedStatementAbortsTransaction) {
          // PostgreSQL: the append's failed statement aborted the transaction; its COMMIT fails.
          assert.deepEqual(
            caughtCommit,
            { error: { class: 'DatabaseError', code: 'DATABASE_ERROR' } },
            `${where}: the transaction that caught the error`,
          );
          assert.equal(added.length, 0, `${where}: nothing of the aborted transaction`);
          continue;
        }
        // The transaction that caught the error went on and committed: the model learns the
        // side append from the store.
        assert.deepEqual(caughtCommit, { ok: undefined }, `${where}: the transaction committed`);
        assert.equal(added.length, 1, `${where}: the transaction that caught the error committed`);
        for (const event of added) {
          apply(
            model,
            side,
            [
              {
                ...side,
                eventType: event.eventType,
                payload: event.payload,
                eventId: event.eventId,
              },
            ],
            { events: [event] } as AppendResult,
          );
        }
      }
    } else if (op.op === 'readStream') {
      const stream = streams[op.stream]!;
      const invalid = (Object.keys(STREAM_LIMITS) as (keyof typeof STREAM_LIMITS)[]).find((f) =>
        textInvalid(stream[f], STREAM_LIMITS[f]),
      );
      const range = { fromVersion: op.from, toVersion: op.to };
      const outcome = await settle(() =>
        store.transaction((tx) => store.readAggregateStream(tx, stream, range)),
      );
      if (invalid !== undefined) {
        assert.deepEqual(
          describeOutcome(outcome),
          {
            error: {
              class: 'InvalidArgumentError',
              code: 'INVALID_ARGUMENT',
              argument: `stream.${invalid}`,
            },
          },
          where,
        );
        continue;
      }
      assert.ok('ok' in outcome, `${where}: ${JSON.stringify(describeOutcome(outcome))}`);
      const read = outcome.ok as { events: PersistedEvent[]; version: number };
      const all = model.streams.get(keyOf(stream)) ?? [];
      const from = Math.max(1, op.from ?? 1);
      const expectedEvents = all.filter(
        (e) => e.version >= from && (op.to === undefined || e.version <= op.to),
      );
      assert.deepEqual(read.events.map(modelView), expectedEvents.map(stripKey), where);
    } else if (op.op === 'readEvents') {
      const afterIndex = op.after >= model.log.length ? model.log.length - 1 : op.after;
      const after = afterIndex < 0 ? base : model.checkpointOf[afterIndex]!;
      const outcome = await settle(() =>
        store.transaction((tx) => store.readEvents(tx, { after, limit: op.limit })),
      );
      assert.ok('ok' in outcome, `${where}: ${JSON.stringify(describeOutcome(outcome))}`);
      const page = (outcome.ok as PersistedEvent[]).map(modelView);
      const expected = model.log.slice(afterIndex + 1, afterIndex + 1 + op.limit).map(stripKey);
      if (options.readsMayLag) {
        assert.deepEqual(page, expected.slice(0, page.length), `${where}: a prefix of the log`);
      } else {
        assert.deepEqual(page, expected, where);
      }
    } else if (op.op === 'saveCheckpoint') {
      const name = names[op.name]!;
      const checkpoint =
        typeof op.checkpoint === 'string'
          ? op.checkpoint
          : (model.checkpointOf[op.checkpoint] ?? 'no-such-event');
      const outcome = await settle(() =>
        store.transaction((tx) => store.saveCheckpoint(tx, name, checkpoint)),
      );
      const nameInvalid = textInvalid(name, inputLimits.maxProjectionNameLength);
      const checkpointValid = model.checkpointOf.includes(checkpoint);
      if (nameInvalid) {
        assert.deepEqual(
          describeOutcome(outcome),
          {
            error: {
              class: 'InvalidArgumentError',
              code: 'INVALID_ARGUMENT',
              argument: 'projectionName',
            },
          },
          where,
        );
      } else if (!checkpointValid) {
        assert.deepEqual(
          describeOutcome(outcome),
          {
            error: {
              class: 'InvalidArgumentError',
              code: 'INVALID_ARGUMENT',
              argument: 'checkpoint',
            },
          },
          where,
        );
      } else {
        assert.ok('ok' in outcome, `${where}: ${JSON.stringify(describeOutcome(outcome))}`);
        model.checkpoints.set(name, checkpoint);
      }
    } else {
      const name = names[op.name]!;
      const outcome = await settle(() => store.transaction((tx) => store.getCheckpoint(tx, name)));
      if (textInvalid(name, inputLimits.maxProjectionNameLength)) {
        assert.deepEqual(
          describeOutcome(outcome),
          {
            error: {
              class: 'InvalidArgumentError',
              code: 'INVALID_ARGUMENT',
              argument: 'projectionName',
            },
          },
          where,
        );
      } else {
        assert.deepEqual(outcome, { ok: model.checkpoints.get(name) ?? null }, where);
      }
    }
  }

  // The whole log of the scenario, once visible, is the model's; streams are 1..n.
  const until = performance.now() + 15_000;
  for (;;) {
    const log = await readAfter(store, base);
    const view = log.map(modelView);
    const expected = model.log.map(stripKey);
    if (options.readsMayLag && view.length < expected.length && performance.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      continue;
    }
    assert.deepEqual(view, expected, `${prefix}: the whole log`);
    break;
  }
  for (const [key, events] of model.streams) {
    events.forEach((e, i) => {
      assert.equal(e.version, i + 1, `${key}: versions`);
    });
  }
}

/** Outcomes seen, by kind, printed after the run with PUP_PROPERTY_STATS=1. */
const stats = new Map<string, number>();
function count(what: string): void {
  stats.set(what, (stats.get(what) ?? 0) + 1);
}

/**
 * The checkpoint of the newest committed event: from `getLogStatus` when the store has it (it
 * counts committed events, readable or not yet), else by reading the whole log.
 */
async function headCheckpoint<Tx>(store: EventStore<Tx>): Promise<string | null> {
  const withStatus = store as EventStore<Tx> & {
    getLogStatus?: (tx: Tx) => Promise<{ headCheckpoint: string | null }>;
  };
  if (typeof withStatus.getLogStatus === 'function') {
    return store.transaction(async (tx) => (await withStatus.getLogStatus!(tx)).headCheckpoint);
  }
  const log = await readAfter(store, null);
  return log[log.length - 1]?.checkpoint ?? null;
}

async function readAfter<Tx>(store: EventStore<Tx>, after: string | null) {
  const log: PersistedEvent[] = [];
  for (;;) {
    const page: PersistedEvent[] = await store.transaction((tx) =>
      store.readEvents(tx, { after: log[log.length - 1]?.checkpoint ?? after, limit: 500 }),
    );
    log.push(...page);
    if (page.length < 500) return log;
  }
}

function apply(
  model: {
    streams: Map<string, ModelEvent[]>;
    log: ModelEvent[];
    checkpointOf: string[];
  },
  stream: StreamRef,
  events: NewEvent[],
  result: AppendResult,
): void {
  const key = keyOf(stream);
  const list = model.streams.get(key) ?? [];
  model.streams.set(key, list);
  events.forEach((event, i) => {
    const stored = result.events[i]!;
    const modelEvent: ModelEvent = {
      streamKey: key,
      eventId: stored.eventId,
      version: list.length + 1,
      eventType: event.eventType,
      eventVersion: event.eventVersion ?? 1,
      payload: normalize(event.payload),
      metadata: normalize(event.metadata ?? null),
      traceId: event.traceId ?? null,
    };
    list.push(modelEvent);
    model.log.push(modelEvent);
    model.checkpointOf.push(stored.checkpoint);
  });
}

function modelView(event: PersistedEvent): Omit<ModelEvent, 'streamKey'> & { stream: string } {
  return {
    stream: keyOf(event),
    eventId: event.eventId,
    version: event.aggregateVersion,
    eventType: event.eventType,
    eventVersion: event.eventVersion,
    payload: event.payload,
    metadata: event.metadata,
    traceId: event.traceId,
  };
}

function stripKey(event: ModelEvent): ReturnType<typeof modelView> {
  const { streamKey, ...rest } = event;
  return { stream: streamKey, ...rest };
}

async function settle<T>(call: () => Promise<T>): Promise<Outcome> {
  try {
    return { ok: await call() };
  } catch (error) {
    return { error: describeFailure(error) };
  }
}

/** The part of an outcome the model predicts (values of successes are checked separately). */
function describeOutcome(outcome: Outcome): unknown {
  return 'ok' in outcome ? 'ok' : outcome;
}

function buildExpected(spec: ExpectedSpec, current: number): ExpectedVersion {
  switch (spec.kind) {
    case 'any':
      return ExpectedVersion.any();
    case 'noStream':
      return ExpectedVersion.noStream();
    case 'streamExists':
      return ExpectedVersion.streamExists();
    case 'exact0':
      return ExpectedVersion.exact(0);
    case 'exact':
      return ExpectedVersion.exact(Math.max(0, current + spec.offset));
  }
}

function buildEvents(
  stream: StreamRef,
  op: Extract<Op, { op: 'append' }>,
  log: readonly ModelEvent[],
): { events: NewEvent[]; eventIds: (string | undefined)[] } {
  const events: NewEvent[] = op.events.map((spec) => {
    const id = randomUUID();
    return {
      ...stream,
      eventType: spec.eventType,
      payload: spec.payload,
      metadata: spec.metadata,
      eventId:
        spec.eventId === 'generated' ? undefined : spec.eventId === 'upper' ? id.toUpperCase() : id,
      eventVersion: spec.eventVersion,
      traceId: spec.traceId,
    };
  });
  const defect = op.defect;
  if (defect !== null) {
    const event = events[defect.index]!;
    switch (defect.kind) {
      case 'eventType-nul':
        event.eventType = 'Bad\u0000Type';
        break;
      case 'eventType-long':
        event.eventType = 'x'.repeat(inputLimits.maxEventTypeLength + 1);
        break;
      case 'eventType-surrogate':
        event.eventType = 'Bad\udc00';
        break;
      case 'eventId-malformed':
        event.eventId = 'not-a-uuid';
        break;
      case 'eventId-twice-in-call':
        if (events.length > 1) {
          const other = events[(defect.index + 1) % events.length]!;
          other.eventId ??= randomUUID();
          event.eventId = other.eventId;
        }
        break;
      case 'eventId-stored':
        if (log.length > 0) event.eventId = log[defect.index % log.length]!.eventId.toUpperCase();
        break;
      case 'eventVersion-too-big':
        event.eventVersion = inputLimits.maxEventVersion + 1;
        break;
      case 'eventVersion-zero':
        event.eventVersion = 0;
        break;
      case 'createdAt-too-early':
        event.createdAt = new Date(inputLimits.minCreatedAt - 1);
        break;
      case 'createdAt-invalid':
        event.createdAt = new Date(Number.NaN);
        break;
      case 'traceId-long':
        event.traceId = 't'.repeat(inputLimits.maxTraceIdLength + 1);
        break;
      case 'causationId-nul':
        event.causationId = '\u0000';
        break;
      case 'metadata-nul-value':
        event.metadata = { ...(event.metadata ?? {}), note: 'a\u0000b' };
        break;
      case 'metadata-surrogate-key':
        event.metadata = { ...(event.metadata ?? {}), '\ud800': 1 };
        break;
    }
  }
  return {
    events,
    eventIds: events.map((e) =>
      typeof e.eventId === 'string' ? e.eventId.toLowerCase() : undefined,
    ),
  };
}

/** What the contract says an append comes to (`{ ok: true }` or the error's description). */
function predictAppend(
  stream: StreamRef,
  expected: ExpectedVersion,
  current: number,
  events: NewEvent[],
  log: readonly ModelEvent[],
): { outcome: Outcome; failsStatement: boolean } {
  const outcome = predictOutcome(stream, expected, current, events, log);
  const failsStatement =
    'error' in outcome &&
    outcome.error.class === 'DuplicateEventIdError' &&
    storedDuplicate(events, log);
  return { outcome, failsStatement };
}

/** Whether an event id of the append is stored already (found by the database, not by core). */
function storedDuplicate(events: NewEvent[], log: readonly ModelEvent[]): boolean {
  const stored = new Set(log.map((e) => e.eventId));
  return events.some((e) => typeof e.eventId === 'string' && stored.has(e.eventId.toLowerCase()));
}

function predictOutcome(
  stream: StreamRef,
  expected: ExpectedVersion,
  current: number,
  events: NewEvent[],
  log: readonly ModelEvent[],
): Outcome {
  const invalidEvent = (index: number, field: string): Outcome => ({
    error: { class: 'InvalidEventError', code: 'INVALID_EVENT', index, field },
  });
  for (const field of ['boundedContext', 'aggregateType', 'aggregateId'] as const) {
    if (textInvalid(stream[field], STREAM_LIMITS[field])) return invalidEvent(0, field);
  }
  const seen = new Set<string>();
  for (const [index, event] of events.entries()) {
    if (textInvalid(event.eventType, inputLimits.maxEventTypeLength)) {
      return invalidEvent(index, 'eventType');
    }
    if (event.eventId !== undefined && event.eventId !== null) {
      if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(event.eventId)) {
        return invalidEvent(index, 'eventId');
      }
      const id = event.eventId.toLowerCase();
      if (seen.has(id))
        return { error: { class: 'DuplicateEventIdError', code: 'DUPLICATE_EVENT_ID' } };
      seen.add(id);
    }
    const eventVersion = event.eventVersion ?? 1;
    if (eventVersion < 1 || eventVersion > inputLimits.maxEventVersion) {
      return invalidEvent(index, 'eventVersion');
    }
    if (event.createdAt !== undefined) {
      const time = event.createdAt.getTime();
      if (
        Number.isNaN(time) ||
        time < inputLimits.minCreatedAt ||
        time > inputLimits.maxCreatedAt
      ) {
        return invalidEvent(index, 'createdAt');
      }
    }
    for (const field of ['traceId', 'correlationId', 'causationId'] as const) {
      const value = event[field];
      if (
        typeof value === 'string' &&
        (value.length > inputLimits.maxTraceIdLength || badText(value))
      ) {
        return invalidEvent(index, field);
      }
    }
    if (
      event.metadata !== null &&
      event.metadata !== undefined &&
      metadataInvalid(event.metadata)
    ) {
      return invalidEvent(index, 'metadata');
    }
  }
  if (!expected.matches(current)) {
    return {
      error: {
        class: 'OptimisticConcurrencyError',
        code: 'OPTIMISTIC_CONCURRENCY',
        actualVersion: current,
      },
    };
  }
  if (storedDuplicate(events, log)) {
    return { error: { class: 'DuplicateEventIdError', code: 'DUPLICATE_EVENT_ID' } };
  }
  return { ok: true };
}
