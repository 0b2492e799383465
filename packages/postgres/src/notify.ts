import type { Logger } from '@pup/core';
import { type PostgresDriver, type Statement, statement } from './driver.js';

/** The statement that notifies the channel from a pool connection. @internal */
export const NOTIFY_STATEMENT: Statement = statement(`SELECT pg_notify($1::text, '')`);

/** After a notification, further commits within this window share the next one. */
const COALESCE_WINDOW_MS = 3;

/**
 * Notifies the channel after transactions opened by `store.transaction()` committed appends:
 * with the COMMIT itself when the driver can (pg), otherwise from a pool connection.
 *
 * A `NOTIFY` inside the appending transaction makes PostgreSQL serialize the commits of all
 * notifying transactions (it holds a global lock across the commit's WAL flush), which costs
 * concurrent writers most of their throughput. Sent afterwards from a transaction without an
 * xid, it costs no flush. The first commit after a quiet period notifies at once; commits while a
 * notification is in flight, or within a few milliseconds after it, share one more notification,
 * which still starts after each of those commits. Under load that is a few hundred notifications
 * a second at most, whatever the commit rate.
 * @internal
 */
export class CommitNotifier {
  private inFlight: Promise<void> | undefined;
  private window: NodeJS.Timeout | undefined;
  private pending = false;
  private closed = false;

  constructor(
    private readonly driver: PostgresDriver<any>,
    private readonly channel: string,
    private readonly logger: Logger | undefined,
  ) {}

  /** Schedules a notification from the pool; never throws and never waits. */
  notify(): void {
    if (this.closed) return;
    if (this.inFlight !== undefined || this.window !== undefined) {
      this.pending = true;
      return;
    }
    this.send();
  }

  /**
   * For a driver that notifies together with its COMMIT: `true` when this commit should notify
   * now (nothing sent within the window; the window starts), otherwise `false` and a notification
   * follows from the pool when the window ends.
   */
  claim(): boolean {
    if (this.closed) return true;
    if (this.inFlight !== undefined || this.window !== undefined) {
      this.pending = true;
      return false;
    }
    this.openWindow();
    return true;
  }

  private openWindow(): void {
    this.window = setTimeout(() => {
      this.window = undefined;
      if (this.pending && !this.closed) this.send();
    }, COALESCE_WINDOW_MS);
    this.window.unref?.();
  }

  private send(): void {
    this.pending = false;
    this.inFlight = this.driver
      .queryPool(NOTIFY_STATEMENT, [this.channel])
      .then(
        () => undefined,
        (error: unknown) => {
          this.logger?.warn('Could not notify waiting projections; they poll meanwhile', {
            channel: this.channel,
            error,
          });
        },
      )
      .finally(() => {
        this.inFlight = undefined;
        if (!this.closed) this.openWindow();
      });
  }

  /** Sends what is still pending, then stops. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.window !== undefined) {
      clearTimeout(this.window);
      this.window = undefined;
    }
    await this.inFlight;
    if (this.pending) {
      this.pending = false;
      await this.driver.queryPool(NOTIFY_STATEMENT, [this.channel]).catch(() => undefined);
    }
  }
}
