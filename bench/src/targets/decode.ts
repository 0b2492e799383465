/**
 * What the raw+ read baselines do with each row besides reading it: turn the payload bytes and the
 * metadata text into objects and `created_at` into a Date, the least a program needs before it can
 * use an event (pup's `decodeEvent` does this and builds the event object).
 */
export function decodeRawRow(
  row: unknown[],
  payload: number,
  metadata: number,
  createdAt: number,
): unknown {
  const bytes = row[payload] as Buffer;
  const meta = row[metadata] as string | null;
  const created = row[createdAt];
  return [
    JSON.parse(bytes.toString('utf8')),
    meta === null ? null : JSON.parse(meta),
    created instanceof Date ? created : new Date(created as number),
  ];
}
