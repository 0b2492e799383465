import type { NewEvent, StreamRef } from '@pup/core';
import { uuidv7 } from '@pup/core/adapter';

/** Bounded context of every benchmark event. */
export const BOUNDED_CONTEXT = 'bench';
/** Aggregate type of every benchmark event. */
export const AGGREGATE_TYPE = 'Account';
/** Event type of every benchmark event. */
export const EVENT_TYPE = 'MoneyDeposited';
/** Metadata of every benchmark event (the same object for pup and raw). */
export const METADATA = { source: 'bench', userId: 'user-42' } as const;

let runCounter = 0;

/** A prefix unique to this process and call, so every run writes new streams. */
export function runTag(): string {
  runCounter += 1;
  return `r${process.pid}-${Date.now().toString(36)}-${runCounter}`;
}

/** The stream of the `index`-th aggregate of a run. */
export function streamOf(tag: string, index: number): StreamRef {
  return {
    boundedContext: BOUNDED_CONTEXT,
    aggregateType: AGGREGATE_TYPE,
    aggregateId: `${tag}-${index}`,
  };
}

/** A realistic small payload (about 90 bytes of JSON). */
export function payloadOf(aggregateId: string, n: number): Record<string, unknown> {
  return { accountId: aggregateId, amount: n * 7 + 1, currency: 'EUR', reference: `INV-${n}` };
}

/** `count` new events for one stream, versions 1..count. Built before timing starts. */
export function eventsFor(stream: StreamRef, count: number): NewEvent[] {
  const events: NewEvent[] = new Array(count);
  for (let i = 0; i < count; i++) {
    events[i] = {
      ...stream,
      eventType: EVENT_TYPE,
      payload: payloadOf(stream.aggregateId, i),
      metadata: METADATA,
    };
  }
  return events;
}

/**
 * One events-table row as a raw baseline writes it: exactly what pup stores for the same
 * `NewEvent` (UUIDv7 id, JSON payload bytes, JSON metadata text, the current time), built inside
 * the timed region just as pup's `prepareAppend` builds its rows.
 */
export interface RawEventRow {
  boundedContext: string;
  aggregateType: string;
  aggregateId: string;
  aggregateVersion: number;
  eventId: string;
  eventType: string;
  eventVersion: number;
  payload: Buffer;
  metadata: string | null;
  traceId: string | null;
  correlationId: string | null;
  causationId: string | null;
  createdAt: Date;
}

/** Encodes events the way a hand-written store would; versions start after `fromVersion`. */
export function rawRows(events: readonly NewEvent[], fromVersion = 0): RawEventRow[] {
  const now = new Date();
  const rows: RawEventRow[] = new Array(events.length);
  for (let i = 0; i < events.length; i++) {
    const event = events[i]!;
    rows[i] = {
      boundedContext: event.boundedContext,
      aggregateType: event.aggregateType,
      aggregateId: event.aggregateId,
      aggregateVersion: fromVersion + i + 1,
      eventId: event.eventId ?? uuidv7(now.getTime()),
      eventType: event.eventType,
      eventVersion: event.eventVersion ?? 1,
      payload: Buffer.from(JSON.stringify(event.payload)),
      metadata: event.metadata ? JSON.stringify(event.metadata) : null,
      traceId: event.traceId ?? null,
      correlationId: event.correlationId ?? null,
      causationId: event.causationId ?? null,
      createdAt: event.createdAt ?? now,
    };
  }
  return rows;
}

/** The `index`-th stream written by a target's `preload` (aggregate id `pre-<index>`). */
export function preloadedStream(index: number): StreamRef {
  return {
    boundedContext: BOUNDED_CONTEXT,
    aggregateType: AGGREGATE_TYPE,
    aggregateId: `pre-${index}`,
  };
}
