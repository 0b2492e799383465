// What the launcher and its workers share: the projection, its read model and its settings.
import type { Projection } from '@pup/core';
import type { ExampleDatabase } from '../shared/database.js';
import type { ShopEvent } from '../shared/shop.js';

/** The example's name: its SQLite file, PostgreSQL schema or MySQL database. */
export const EXAMPLE = 'scaling-workers';
/** The projection every worker runs. */
export const PROJECTION = 'event-applications';
/** Fixed per projection: at most this many workers share the work. */
export const SEGMENTS = 8;
/** Short leases, so a killed worker's segments move within the example's time box. */
export const LEASE_TTL_MS = 1_500;
export const HEARTBEAT_MS = 250;

/** `event_applications`: how many times each event was applied, keyed by event id. */
export async function createEventApplications(db: ExampleDatabase): Promise<void> {
  await db.ddl(`CREATE TABLE IF NOT EXISTS ${db.table('event_applications')} (
    event_id VARCHAR(64) PRIMARY KEY,
    applications INTEGER NOT NULL
  )`);
}

/**
 * Counts each application of an event in the batch's transaction: a batch that rolls back (a
 * worker killed mid-batch, or fenced off after losing its lease) leaves no trace, so every
 * counter ends at 1 when each event was applied exactly once.
 */
export function eventApplicationsProjection(db: ExampleDatabase): Projection<unknown, ShopEvent> {
  const table = db.table('event_applications');
  return {
    name: PROJECTION,
    aggregateTypes: ['Order'],
    async handle(event, { tx }) {
      await db.increment(tx, table, { event_id: event.eventId }, { applications: 1 });
    },
  };
}
