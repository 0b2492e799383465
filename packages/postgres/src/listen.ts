import type { Logger, WaitForEventsOptions } from '@pup/core';
import { InvalidArgumentError } from '@pup/core';
import type { Listener, PostgresDriver } from './driver.js';

const FIRST_RETRY_DELAY_MS = 100;
const MAX_RETRY_DELAY_MS = 10_000;

/**
 * Wakes waiting projections when appends notify the channel. The LISTEN connection is opened
 * lazily by the first wait and re-opened (with backoff) by a later wait after it dropped; every
 * waiter is woken when notifications may have been lost, and every wait ends at its timeout
 * anyway, so polling keeps working without notifications.
 * @internal
 */
export class WakeUps {
  private readonly waiters = new Set<() => void>();
  private listener: Listener | undefined;
  private connecting: Promise<void> | undefined;
  private retryAt = 0;
  private retryDelayMs = FIRST_RETRY_DELAY_MS;
  private closed = false;

  constructor(
    private readonly driver: PostgresDriver<any>,
    private readonly channel: string,
    private readonly logger: Logger | undefined,
  ) {}

  /** Resolves on a notification, at `timeoutMs`, or when `signal` aborts. */
  wait(options: WaitForEventsOptions): Promise<void> {
    const { signal, timeoutMs } = options ?? ({} as WaitForEventsOptions);
    if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0)) {
      return Promise.reject(new InvalidArgumentError('timeoutMs', 'must be a non-negative number'));
    }
    if (this.closed || signal?.aborted || timeoutMs === 0) return Promise.resolve();
    this.ensureListening();
    return new Promise<void>((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', wake);
        this.waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, timeoutMs);
      signal?.addEventListener('abort', wake, { once: true });
      this.waiters.add(wake);
    });
  }

  /** Whether a LISTEN connection is currently established. */
  get listening(): boolean {
    return this.listener !== undefined;
  }

  /** Opens the listener unless it is open, opening, or waiting out a retry delay. */
  private ensureListening(): void {
    if (this.listener !== undefined || this.connecting !== undefined) return;
    if (Date.now() < this.retryAt) return;
    this.connecting = this.connect().finally(() => {
      this.connecting = undefined;
    });
  }

  private async connect(): Promise<void> {
    let listener: Listener;
    try {
      listener = await this.driver.listen(this.channel, {
        onNotify: () => this.wakeAll(),
        onMissed: () => this.wakeAll(),
        onClosed: (error) => {
          if (this.listener !== listener) return;
          this.listener = undefined;
          this.logger?.warn('The LISTEN connection dropped; projections poll until it is back', {
            channel: this.channel,
            error,
          });
          this.wakeAll();
        },
      });
    } catch (error) {
      this.retryAt = Date.now() + this.retryDelayMs;
      this.retryDelayMs = Math.min(this.retryDelayMs * 2, MAX_RETRY_DELAY_MS);
      this.logger?.warn('Could not LISTEN for new events; projections poll meanwhile', {
        channel: this.channel,
        error,
      });
      return;
    }
    if (this.closed) {
      await listener.close().catch(() => {});
      return;
    }
    this.retryDelayMs = FIRST_RETRY_DELAY_MS;
    this.listener = listener;
    this.logger?.debug('Listening for new events', { channel: this.channel });
    // Appends that committed while the LISTEN was being set up notified nobody: wake the waiters
    // so they read once more.
    this.wakeAll();
  }

  private wakeAll(): void {
    for (const wake of [...this.waiters]) wake();
  }

  /** Wakes every waiter and releases the LISTEN connection. */
  async close(): Promise<void> {
    this.closed = true;
    this.wakeAll();
    await this.connecting;
    const listener = this.listener;
    this.listener = undefined;
    await listener?.close();
  }

  /** Opens the listener now (tests and eager callers); resolves once it is established or failed. */
  async start(): Promise<boolean> {
    this.ensureListening();
    await this.connecting;
    return this.listener !== undefined;
  }
}
