import { InvalidArgumentError } from './errors.js';

/** The kinds of expectation an append can state about the stream's current version. */
export type ExpectedVersionKind = 'any' | 'noStream' | 'streamExists' | 'exact';

/**
 * What an append expects of the stream's current version. The check and the insert are atomic,
 * so concurrent appenders cannot both pass the same expectation.
 *
 * @example
 * await store.append(tx, ExpectedVersion.exact(stream.version), events);
 */
export class ExpectedVersion {
  private constructor(
    /** Which kind of expectation this is. */
    readonly kind: ExpectedVersionKind,
    /** The exact version for `exact`, otherwise `undefined`. */
    readonly version: number | undefined,
  ) {
    Object.freeze(this);
  }

  private static readonly anyInstance = new ExpectedVersion('any', undefined);
  private static readonly noStreamInstance = new ExpectedVersion('noStream', undefined);
  private static readonly streamExistsInstance = new ExpectedVersion('streamExists', undefined);

  /** No check: append whatever the stream's version is. */
  static any(): ExpectedVersion {
    return ExpectedVersion.anyInstance;
  }

  /** The stream must not exist yet (same as `exact(0)`). */
  static noStream(): ExpectedVersion {
    return ExpectedVersion.noStreamInstance;
  }

  /** The stream must already hold at least one event. */
  static streamExists(): ExpectedVersion {
    return ExpectedVersion.streamExistsInstance;
  }

  /**
   * The stream must be at exactly `version` (0 = the stream must not exist).
   * @throws {InvalidArgumentError} when `version` is not a non-negative safe integer.
   */
  static exact(version: number): ExpectedVersion {
    if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0) {
      throw new InvalidArgumentError(
        'expectedVersion',
        `exact version must be a non-negative integer, got ${String(version)}`,
      );
    }
    return new ExpectedVersion('exact', version);
  }

  /** Whether a stream currently at `currentVersion` (0 = missing) satisfies this expectation. */
  matches(currentVersion: number): boolean {
    switch (this.kind) {
      case 'any':
        return true;
      case 'noStream':
        return currentVersion === 0;
      case 'streamExists':
        return currentVersion > 0;
      case 'exact':
        return currentVersion === this.version;
    }
  }

  /** The version the stream must have, when the expectation pins one (`noStream` → 0). */
  get requiredVersion(): number | undefined {
    if (this.kind === 'exact') return this.version;
    if (this.kind === 'noStream') return 0;
    return undefined;
  }

  toString(): string {
    return this.kind === 'exact' ? `exact(${this.version})` : `${this.kind}()`;
  }
}

/**
 * The genuine {@link ExpectedVersion} `expected` stands for. An instance of another copy of
 * `@pup/core` is accepted by its shape (`kind`, `version`, a `matches` method) and rebuilt, so
 * the version check always runs this module's `matches`, never a function that came with the
 * input.
 * @throws {InvalidArgumentError} when `expected` does not have the shape of an expectation.
 * @internal
 */
export function toExpectedVersion(expected: unknown): ExpectedVersion {
  if (expected instanceof ExpectedVersion) return expected;
  const candidate = expected as { kind?: unknown; version?: unknown; matches?: unknown } | null;
  if (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.matches === 'function'
  ) {
    switch (candidate.kind) {
      case 'any':
        return ExpectedVersion.any();
      case 'noStream':
        return ExpectedVersion.noStream();
      case 'streamExists':
        return ExpectedVersion.streamExists();
      case 'exact':
        if (
          typeof candidate.version === 'number' &&
          Number.isSafeInteger(candidate.version) &&
          candidate.version >= 0
        ) {
          return ExpectedVersion.exact(candidate.version);
        }
    }
  }
  throw new InvalidArgumentError(
    'expectedVersion',
    'use ExpectedVersion.any(), .noStream(), .streamExists() or .exact(n)',
  );
}
