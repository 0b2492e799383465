import { InvalidArgumentError, OptimisticConcurrencyError } from '../errors.js';
import { ExpectedVersion } from '../expected-version.js';
import { validateStreamRef } from '../read-input.js';
import type { DomainEvent, PersistedEventOf } from '../typed-events.js';
import type { EventStore, NewEvent, PersistedEvent, StreamRef } from '../types.js';
import { type CommandHandler, decidedEvents, foldEvents } from './decider.js';

/** Options of {@link handleCommand}. */
export interface HandleCommandOptions {
  /**
   * How many times the command is run again (stream reloaded, `decide` called again) after an
   * `OptimisticConcurrencyError`, before that error is passed on. @default 3
   */
  maxRetries?: number;
  /** Gives up the attempt in flight (rolled back) with `OperationAbortedError`. */
  signal?: AbortSignal;
  /** Gives up each attempt after this many milliseconds, as `store.transaction` does. */
  timeoutMs?: number;
}

/** What {@link handleCommand} did. */
export interface CommandResult<State, E extends object = DomainEvent> {
  /** The stream the command went to. */
  stream: StreamRef;
  /** The aggregate's state after the appended events. */
  state: State;
  /** The stream's version after the command (unchanged when `decide` returned no event). */
  version: number;
  /** The appended events as stored, in order; empty when `decide` returned none. */
  events: PersistedEventOf<E>[];
  /** How many times the command was run again after a concurrent write. */
  retries: number;
}

const MAX_RETRIES_LIMIT = 1000;

/**
 * Handles a command against one aggregate's stream, in one transaction: reads the stream, folds
 * it into state with `evolve` (from `initialState()`), calls `decide`, and appends the events it
 * returns with `ExpectedVersion.exact(version)` of the stream it read (`noStream()` when the
 * stream did not exist). When another writer appended in between, the append fails with
 * `OptimisticConcurrencyError` and the whole command runs again, at most `maxRetries` times.
 * An error thrown by `decide` or `evolve` rejects at once, nothing written.
 *
 * @returns The new state, version and appended events.
 * @throws {OptimisticConcurrencyError} (as a rejection) when every attempt met a concurrent write.
 * @throws the store's errors (`InvalidEventError`, …) and whatever `decide` throws.
 *
 * @example
 * const result = await handleCommand(
 *   store,
 *   { ...account, stream: (command) => accountStream(command.accountId) },
 *   { type: 'Withdraw', accountId: 'alice', amount: 30 },
 * );
 * console.log(result.version, result.state.balance);
 */
export async function handleCommand<Tx, E extends object, State, Command>(
  store: EventStore<Tx, E>,
  handler: CommandHandler<State, Command, E>,
  command: NoInfer<Command>,
  options: HandleCommandOptions = {},
): Promise<CommandResult<State, E>> {
  if (typeof handler !== 'object' || handler === null) {
    throw new InvalidArgumentError('handler', 'must be { stream, initialState, evolve, decide }');
  }
  for (const member of ['initialState', 'evolve', 'decide'] as const) {
    if (typeof handler[member] !== 'function') {
      throw new InvalidArgumentError(`handler.${member}`, 'must be a function');
    }
  }
  const maxRetries = options?.maxRetries ?? 3;
  if (!Number.isSafeInteger(maxRetries) || maxRetries < 0 || maxRetries > MAX_RETRIES_LIMIT) {
    throw new InvalidArgumentError(
      'options.maxRetries',
      `must be an integer from 0 to ${MAX_RETRIES_LIMIT}`,
    );
  }
  const stream = validateStreamRef(
    typeof handler.stream === 'function' ? handler.stream(command) : handler.stream,
  );
  const transactionOptions = { signal: options?.signal, timeoutMs: options?.timeoutMs };
  // Payload types only matter to the caller's functions: the loop works on the untyped store.
  const untyped = store as EventStore<Tx>;
  const evolve = handler as unknown as CommandHandler<State, Command, DomainEvent>;

  for (let retries = 0; ; retries++) {
    try {
      const result = await untyped.transaction(async (tx) => {
        const current = await untyped.readAggregateStream(tx, stream);
        const state = foldEvents(evolve, handler.initialState(), current.events);
        const decided = decidedEvents<E>(handler.decide(command, state));
        if (decided.length === 0) {
          return { state, version: current.version, events: [] as PersistedEvent[] };
        }
        const events = decided.map((event) => ({ ...(event as object), ...stream }) as NewEvent);
        const expected =
          current.version === 0
            ? ExpectedVersion.noStream()
            : ExpectedVersion.exact(current.version);
        const appended = await untyped.append(tx, expected, events);
        return {
          state: foldEvents(evolve, state, appended.events),
          version: appended.toVersion,
          events: appended.events,
        };
      }, transactionOptions);
      return {
        stream,
        state: result.state,
        version: result.version,
        events: result.events as PersistedEventOf<E>[],
        retries,
      };
    } catch (error) {
      if (!(error instanceof OptimisticConcurrencyError) || retries >= maxRetries) throw error;
    }
  }
}
