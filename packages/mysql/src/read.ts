import type { StreamRef } from '@pup/core';
import { positionCheckpoint, type SegmentFilter, type StoredEventRow } from '@pup/core/adapter';
import { horizonSql } from './blocks.js';
import { type MysqlPoolConnection, selectRows, toNumber } from './driver.js';
import type { MysqlTables } from './schema.js';

/** The columns every event read selects, in the order {@link decodeRow} expects. @internal */
export const EVENT_COLUMNS = `global_position, bounded_context, aggregate_type, aggregate_id,
  aggregate_version, event_id, event_type, event_version, payload, trace_id, correlation_id,
  causation_id, metadata, CAST(created_at AS CHAR)`;

/** UTF-8 bytes of a name or id, as stored in the VARBINARY columns. @internal */
export function bytes(text: string): Buffer {
  return Buffer.from(text, 'utf8');
}

function text(value: unknown): string {
  return Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
}

function optionalText(value: unknown): string | null {
  return value === null || value === undefined ? null : text(value);
}

/** A UUID's 16 bytes, from its text form. @internal */
export function uuidBytes(uuid: string): Buffer {
  return Buffer.from(uuid.replaceAll('-', ''), 'hex');
}

/** The text form of 16 UUID bytes. @internal */
export function uuidText(value: unknown): string {
  const hex = Buffer.isBuffer(value) ? value.toString('hex') : String(value);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** `Date` → `YYYY-MM-DD HH:MM:SS.mmm` in UTC, for a DATETIME(3) column. @internal */
export function datetime(date: Date): string {
  return date.toISOString().slice(0, 23).replace('T', ' ');
}

/** `YYYY-MM-DD HH:MM:SS[.fff]` (UTC) → milliseconds since the epoch. */
function parseDatetime(value: unknown): number {
  const s = text(value);
  const ms = s.length > 20 ? Number(s.slice(20, 23).padEnd(3, '0')) : 0;
  return Date.UTC(
    Number(s.slice(0, 4)),
    Number(s.slice(5, 7)) - 1,
    Number(s.slice(8, 10)),
    Number(s.slice(11, 13)),
    Number(s.slice(14, 16)),
    Number(s.slice(17, 19)),
    ms,
  );
}

/** Decodes one row of {@link EVENT_COLUMNS}. @internal */
export function decodeRow(row: unknown[]): StoredEventRow {
  const globalPosition = toNumber(row[0]);
  const metadata = row[12];
  return {
    globalPosition,
    checkpoint: positionCheckpoint(globalPosition),
    boundedContext: text(row[1]),
    aggregateType: text(row[2]),
    aggregateId: text(row[3]),
    aggregateVersion: toNumber(row[4]),
    eventId: uuidText(row[5]),
    eventType: text(row[6]),
    eventVersion: toNumber(row[7]),
    payload: row[8] as Uint8Array,
    traceId: optionalText(row[9]),
    correlationId: optionalText(row[10]),
    causationId: optionalText(row[11]),
    metadata:
      metadata === null || metadata === undefined
        ? null
        : Buffer.isBuffer(metadata)
          ? metadata.toString('utf8')
          : (metadata as string | Record<string, unknown>),
    createdAt: parseDatetime(row[13]),
  };
}

/**
 * Up to `limit` events after `after`, below the read horizon, in log order: one statement, so
 * the horizon and the events come from one snapshot. @internal
 */
export async function readEvents(
  conn: MysqlPoolConnection,
  t: MysqlTables,
  after: number | null,
  limit: number,
): Promise<StoredEventRow[]> {
  const rows = await selectRows(
    conn,
    `SELECT ${EVENT_COLUMNS} FROM ${t.events}
     WHERE global_position > ? AND global_position < ${horizonSql(t)}
     ORDER BY global_position LIMIT ?`,
    [after ?? 0, limit],
  );
  return rows.map(decodeRow);
}

/**
 * The event at `globalPosition` as the transaction sees it, or `null`: a point read by the primary
 * key, with no read horizon (the caller asks for an event it knows of). @internal
 */
export async function readEventAt(
  conn: MysqlPoolConnection,
  t: MysqlTables,
  globalPosition: number,
): Promise<StoredEventRow | null> {
  const [row] = await selectRows(
    conn,
    `SELECT ${EVENT_COLUMNS} FROM ${t.events} WHERE global_position = ?`,
    [globalPosition],
  );
  return row === undefined ? null : decodeRow(row);
}

/**
 * {@link readEvents} for one hash segment: of the next `limit` rows, only the segment's come back
 * (and rows without a hash, written before schema version 2), plus the last one, so the batch can
 * save its position. One statement: the horizon, the scan and the filter share one snapshot.
 * @internal
 */
export async function readSegmentEvents(
  conn: MysqlPoolConnection,
  t: MysqlTables,
  after: number | null,
  limit: number,
  filter: SegmentFilter,
): Promise<{ rows: StoredEventRow[]; scanned: number }> {
  // The scan keeps only each row's position and hash (so the derived tables never copy
  // payloads); the rows to return are then fetched by primary key.
  const rows = await selectRows(
    conn,
    `SELECT ${EVENT_COLUMNS}, numbered.scanned
     FROM (
       SELECT scan.global_position AS position, scan.aggregate_hash AS hash,
         COUNT(*) OVER () AS scanned,
         ROW_NUMBER() OVER (ORDER BY scan.global_position) AS n
       FROM (
         SELECT global_position, aggregate_hash FROM ${t.events}
         WHERE global_position > ? AND global_position < ${horizonSql(t)}
         ORDER BY global_position LIMIT ?
       ) scan
     ) numbered
     JOIN ${t.events} ON global_position = numbered.position
     WHERE numbered.hash IS NULL OR numbered.hash % ? = ? OR numbered.n = numbered.scanned
     ORDER BY global_position`,
    [after ?? 0, limit, filter.segments, filter.segment],
  );
  if (rows.length === 0) return { rows: [], scanned: 0 };
  return { rows: rows.map(decodeRow), scanned: toNumber(rows[0]![14]) };
}

/** The events of one stream from `fromVersion` to `toVersion`, in version order. @internal */
export async function readStream(
  conn: MysqlPoolConnection,
  t: MysqlTables,
  stream: StreamRef,
  fromVersion: number,
  toVersion: number | null,
): Promise<StoredEventRow[]> {
  const params: unknown[] = [
    bytes(stream.boundedContext),
    bytes(stream.aggregateType),
    bytes(stream.aggregateId),
    fromVersion,
  ];
  if (toVersion !== null) params.push(toVersion);
  const rows = await selectRows(
    conn,
    `SELECT ${EVENT_COLUMNS} FROM ${t.events}
     WHERE bounded_context = ? AND aggregate_type = ? AND aggregate_id = ?
       AND aggregate_version >= ?${toVersion === null ? '' : ' AND aggregate_version <= ?'}
     ORDER BY aggregate_version`,
    params,
  );
  return rows.map(decodeRow);
}
