import { InvalidArgumentError, type WaitForEventsOptions } from '@pup/core';
import type { SqliteDatabase } from './driver.js';

/** How often a caller-opened transaction is checked for its end (see {@link EventNotifier}). */
const FOREIGN_COMMIT_POLL_MS = 5;

const notifiersByDatabase = new WeakMap<SqliteDatabase, Set<EventNotifier>>();

/**
 * Wakes the in-process waiters of one store when events were committed on its connection. A
 * store's transactions announce their commit right after `COMMIT`; an append that joined a
 * transaction the caller opened with the driver cannot see that commit, so the notifier polls
 * the connection's `inTransaction` until it ends. Commits made by other connections or processes
 * are not seen: waiters then wake on their timeout, and the projection processor polls.
 */
export class EventNotifier {
  private readonly waiters = new Set<() => void>();
  private watchTimer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly db: SqliteDatabase) {
    let notifiers = notifiersByDatabase.get(db);
    if (notifiers === undefined) {
      notifiers = new Set();
      notifiersByDatabase.set(db, notifiers);
    }
    notifiers.add(this);
  }

  /** Resolves on the next announced commit, after `timeoutMs`, or when `signal` aborts. */
  wait(options: WaitForEventsOptions): Promise<void> {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError('options', 'waitForEvents needs { signal, timeoutMs }');
    }
    const { signal, timeoutMs } = options;
    if (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs) || timeoutMs < 0) {
      throw new InvalidArgumentError('timeoutMs', 'must be a non-negative number');
    }
    if (
      typeof signal !== 'object' ||
      signal === null ||
      typeof signal.addEventListener !== 'function'
    ) {
      throw new InvalidArgumentError('signal', 'must be an AbortSignal');
    }
    return new Promise((resolve) => {
      if (signal.aborted) {
        resolve();
        return;
      }
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.min(timeoutMs, 2_147_483_647));
      signal.addEventListener('abort', done, { once: true });
      this.waiters.add(done);
    });
  }

  /** Wakes every waiter now. */
  wake(): void {
    if (this.waiters.size === 0) return;
    for (const done of [...this.waiters]) done();
  }

  /** Wakes the waiters once the caller-opened transaction on the connection has ended. */
  wakeAfterForeignCommit(): void {
    if (this.waiters.size === 0 || this.watchTimer !== undefined) return;
    this.watchTimer = setInterval(() => {
      if (this.db.open && this.db.inTransaction && this.waiters.size > 0) return;
      this.stopWatching();
      this.wake();
    }, FOREIGN_COMMIT_POLL_MS);
    this.watchTimer.unref();
  }

  /** Wakes every waiter and stops watching; the notifier no longer hears commits. */
  close(): void {
    this.stopWatching();
    notifiersByDatabase.get(this.db)?.delete(this);
    this.wake();
  }

  private stopWatching(): void {
    if (this.watchTimer !== undefined) {
      clearInterval(this.watchTimer);
      this.watchTimer = undefined;
    }
  }
}

/** Announces that a transaction which appended events committed on `db`. */
export function announceCommit(db: SqliteDatabase): void {
  const notifiers = notifiersByDatabase.get(db);
  if (notifiers === undefined) return;
  for (const notifier of notifiers) notifier.wake();
}

/** Announces events appended inside a transaction the caller opened on `db` with the driver. */
export function announceForeignAppend(db: SqliteDatabase): void {
  const notifiers = notifiersByDatabase.get(db);
  if (notifiers === undefined) return;
  for (const notifier of notifiers) notifier.wakeAfterForeignCommit();
}
