import type { Logger } from '@pup/core';
import { type PostgresDriver, type Statement, statement } from './driver.js';

/** The statement that notifies the channel from a pool connection. @internal */
export const NOTIFY_STATEMENT: Statement = statement(`SELECT pg_notify($1::text, '')`);

/**
 * Notifies the channel after transactions opened by `store.transaction()` committed appends.
 *
 * A `NOTIFY` inside the appending transaction makes PostgreSQL serialize the commits of all
 * notifying transactions (it holds a global lock across the commit's WAL flush), which costs
 * concurrent writers most of their throughput. Sent afterwards from a transaction without an
 * xid, it costs no flush. Requests are coalesced: while one notification is in flight, any number
 * of commits schedule exactly one more, which still starts after each of those commits.
 * @internal
 */
export class CommitNotifier {
  private inFlight: Promise<void> | undefined;
  private again = false;
  private closed = false;

  constructor(
    private readonly driver: PostgresDriver<any>,
    private readonly channel: string,
    private readonly logger: Logger | undefined,
  ) {}

  /** Schedules a notification; never throws and never waits. */
  notify(): void {
    if (this.closed) return;
    if (this.inFlight !== undefined) {
      this.again = true;
      return;
    }
    this.inFlight = this.send();
  }

  private async send(): Promise<void> {
    do {
      this.again = false;
      try {
        await this.driver.queryPool(NOTIFY_STATEMENT, [this.channel]);
      } catch (error) {
        this.logger?.warn('Could not notify waiting projections; they poll meanwhile', {
          channel: this.channel,
          error,
        });
      }
    } while (this.again && !this.closed);
    this.inFlight = undefined;
  }

  /** Waits for the notification in flight; later requests are dropped. */
  async close(): Promise<void> {
    this.closed = true;
    await this.inFlight;
  }
}
