/**
 * PostgreSQL array literals built by hand, so both drivers send each array as one text parameter
 * with the same encoding, whatever their own array and type-inference rules are.
 */

const QUOTED_CHARACTERS = /["\\]/g;

/** A `text[]` (or `uuid[]`, `jsonb[]`, `timestamptz[]`) literal; `null` elements become NULL. @internal */
export function textArrayLiteral(values: readonly (string | null)[]): string {
  let literal = '{';
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (i > 0) literal += ',';
    literal +=
      value === null || value === undefined
        ? 'NULL'
        : `"${value.replace(QUOTED_CHARACTERS, '\\$&')}"`;
  }
  return `${literal}}`;
}

/** An `integer[]`/`bigint[]` literal. @internal */
export function numberArrayLiteral(values: readonly number[]): string {
  return `{${values.join(',')}}`;
}

/** A `bytea[]` literal in hex form. @internal */
export function byteaArrayLiteral(values: readonly Uint8Array[]): string {
  let literal = '{';
  for (let i = 0; i < values.length; i++) {
    const bytes = values[i]!;
    if (i > 0) literal += ',';
    literal += `"\\\\x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}"`;
  }
  return `${literal}}`;
}
