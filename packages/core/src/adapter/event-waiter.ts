import { isAbortSignal } from '../abort-signal.js';
import { InvalidArgumentError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { WaitForEventsOptions } from '../types.js';
import type { CommitListener, CommitListenerHandlers } from './dialect.js';

/** Longest delay `setTimeout` honours; longer ones would fire at once. */
export const MAX_WAIT_MS = 2_147_483_647;

const FIRST_RETRY_DELAY_MS = 100;
const MAX_RETRY_DELAY_MS = 10_000;

/**
 * Validates the options of `waitForEvents`.
 * @throws {InvalidArgumentError} when `signal` is not an AbortSignal or `timeoutMs` is not a
 * non-negative number.
 */
export function validateWaitOptions(options: WaitForEventsOptions): {
  signal: AbortSignal;
  timeoutMs: number;
} {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('options', 'waitForEvents needs { signal, timeoutMs }');
  }
  const { signal, timeoutMs } = options;
  if (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs) || timeoutMs < 0) {
    throw new InvalidArgumentError('timeoutMs', 'must be a non-negative number of milliseconds');
  }
  if (!isAbortSignal(signal)) {
    throw new InvalidArgumentError('signal', 'must be an AbortSignal');
  }
  return { signal, timeoutMs: Math.min(timeoutMs, MAX_WAIT_MS) };
}

/**
 * The one implementation of `waitForEvents`: waiters resolve on a commit of a store transaction
 * in this process, on a commit the dialect's listener reports, at their timeout, or when their
 * signal aborts. The listener is opened by the first wait, re-opened with backoff by a later wait
 * after it closed, and waiters are woken whenever notifications may have been lost, so polling at
 * the timeout always remains correct.
 */
export class EventWaiter {
  private readonly waiters = new Set<() => void>();
  private listener: CommitListener | undefined;
  private connecting: Promise<void> | undefined;
  private retryAt = 0;
  private retryDelayMs = FIRST_RETRY_DELAY_MS;
  private closed = false;

  constructor(
    private readonly database: string,
    private readonly listen:
      | ((handlers: CommitListenerHandlers) => Promise<CommitListener>)
      | undefined,
    private readonly logger: Logger | undefined,
  ) {}

  /** Resolves on the next wake-up, after `timeoutMs` (already validated), or on abort. */
  wait(signal: AbortSignal, timeoutMs: number): Promise<void> {
    if (this.closed || signal.aborted || timeoutMs === 0) return Promise.resolve();
    this.ensureListening();
    return new Promise<void>((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', wake);
        this.waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, timeoutMs);
      signal.addEventListener('abort', wake, { once: true });
      this.waiters.add(wake);
    });
  }

  /** Wakes every waiter now. */
  wakeAll(): void {
    if (this.waiters.size === 0) return;
    for (const wake of [...this.waiters]) wake();
  }

  /** Whether the dialect's listener is currently open. */
  get listening(): boolean {
    return this.listener !== undefined;
  }

  /** Opens the listener now; resolves with whether it is open. */
  async start(): Promise<boolean> {
    this.ensureListening();
    await this.connecting;
    return this.listener !== undefined;
  }

  private ensureListening(): void {
    if (this.listen === undefined) return;
    if (this.listener !== undefined || this.connecting !== undefined) return;
    if (Date.now() < this.retryAt) return;
    this.connecting = this.connect(this.listen).finally(() => {
      this.connecting = undefined;
    });
  }

  private async connect(
    listen: (handlers: CommitListenerHandlers) => Promise<CommitListener>,
  ): Promise<void> {
    let listener: CommitListener;
    try {
      listener = await listen({
        onCommit: () => this.wakeAll(),
        onMissed: () => this.wakeAll(),
        onClosed: (error) => {
          if (this.listener !== listener) return;
          this.listener = undefined;
          if (!this.closed) {
            this.logger?.warn(
              'The commit listener closed; waits end at their timeout until it is back',
              {
                database: this.database,
                error,
              },
            );
          }
          this.wakeAll();
        },
      });
    } catch (error) {
      this.retryAt = Date.now() + this.retryDelayMs;
      this.retryDelayMs = Math.min(this.retryDelayMs * 2, MAX_RETRY_DELAY_MS);
      this.logger?.warn('Could not listen for commits; waits end at their timeout meanwhile', {
        database: this.database,
        error,
      });
      return;
    }
    if (this.closed) {
      await listener.close().catch(() => undefined);
      return;
    }
    this.retryDelayMs = FIRST_RETRY_DELAY_MS;
    this.listener = listener;
    this.logger?.debug('Listening for commits', { database: this.database });
    // Commits made while the listener was being set up notified nobody: wake the waiters so they
    // read once more.
    this.wakeAll();
  }

  /** Wakes every waiter, stops listening; later waits resolve at once. */
  async close(): Promise<void> {
    this.closed = true;
    this.wakeAll();
    await this.connecting;
    const listener = this.listener;
    this.listener = undefined;
    await listener?.close();
  }
}
