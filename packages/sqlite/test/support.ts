import { randomUUID } from 'node:crypto';
import type { NewEvent, StreamRef } from '@pup/core';
import type Database from 'better-sqlite3';

/** A stream no other test uses. */
export function newStream(label = 'stream'): StreamRef {
  return {
    boundedContext: 'tests',
    aggregateType: 'Counter',
    aggregateId: `${label}-${randomUUID()}`,
  };
}

/** `count` events of `stream`, numbered in their payload from 1. */
export function eventsOf(
  stream: StreamRef,
  count = 1,
  overrides: Partial<NewEvent> = {},
): NewEvent[] {
  return Array.from({ length: count }, (_, i) => ({
    ...stream,
    eventType: 'Incremented',
    payload: { n: i + 1 },
    ...overrides,
  }));
}

/** Row count of a table, read with raw SQL. */
export function countRows(db: Database.Database, table: string): number {
  return Number(db.prepare(`SELECT COUNT(*) FROM ${table}`).pluck().get());
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));
