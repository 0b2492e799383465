// Hand-written Standard Schemas, the way zod, valibot or arktype expose theirs: an object with a
// `~standard` property. pup depends on the interface only, so no library is needed to test it.
import type { StandardSchemaV1 } from '../../src/index.js';

type Check = (value: unknown) => StandardSchemaV1.Issue[];

/** A synchronous schema whose output type is `T`; `check` lists the issues of a value. */
export function schema<T>(check: Check, vendor = 'pup-test'): StandardSchemaV1<unknown, T> {
  const calls = { count: 0 };
  return Object.assign(
    {
      '~standard': {
        version: 1 as const,
        vendor,
        validate(value: unknown): StandardSchemaV1.Result<T> {
          calls.count++;
          const issues = check(value);
          return issues.length === 0 ? { value: value as T } : { issues };
        },
      },
    },
    { calls },
  );
}

/** A schema that answers with a promise, as an async refinement of zod does. */
export function asyncSchema<T>(): StandardSchemaV1<unknown, T> {
  return {
    '~standard': {
      version: 1,
      vendor: 'pup-test',
      validate: async (value: unknown) => ({ value: value as T }),
    },
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `{ amount: number }` with a positive amount. */
export const amountSchema = schema<{ amount: number }>((value) => {
  if (!isRecord(value)) return [{ message: 'must be an object' }];
  if (typeof value.amount !== 'number') {
    return [{ message: 'must be a number', path: ['amount'] }];
  }
  if (value.amount <= 0) return [{ message: 'must be positive', path: [{ key: 'amount' }] }];
  return [];
});

/** `{ owner: string }`. */
export const ownerSchema = schema<{ owner: string }>((value) =>
  isRecord(value) && typeof value.owner === 'string' && value.owner.length > 0
    ? []
    : [{ message: 'must be a non-empty string', path: ['owner'] }],
);
