/**
 * Whether `value` is an `AbortSignal`, checked by its shape, so signals of another realm or a
 * polyfill are accepted too.
 */
export function isAbortSignal(value: unknown): value is AbortSignal {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as AbortSignal).aborted === 'boolean' &&
    typeof (value as AbortSignal).addEventListener === 'function'
  );
}
