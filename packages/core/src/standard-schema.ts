/**
 * The Standard Schema interface, version 1 (https://standardschema.dev): what zod (3.24+),
 * valibot (1.0+), arktype (2.0+) and other validation libraries implement. pup depends on the
 * shape only, never on a library: any object with a `~standard` property of this shape is a
 * schema pup can validate payloads with.
 *
 * @typeParam Input What the schema accepts.
 * @typeParam Output What a successful validation returns; for pup, the payload type.
 */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  /** The Standard Schema properties. */
  readonly '~standard': StandardSchemaV1.Props<Input, Output>;
}

/** The types of the Standard Schema interface. */
export declare namespace StandardSchemaV1 {
  /** The properties every Standard Schema carries under `~standard`. */
  export interface Props<Input = unknown, Output = Input> {
    /** The version of the interface: 1. */
    readonly version: 1;
    /** The library that made the schema (`zod`, `valibot`, …). */
    readonly vendor: string;
    /**
     * Validates `value`. pup accepts only synchronous results: a schema whose `validate`
     * returns a promise is refused with `InvalidConfigError` when it is first used.
     */
    readonly validate: (value: unknown) => Result<Output> | Promise<Result<Output>>;
    /** Static types only, for inference; absent at run time. */
    readonly types?: Types<Input, Output> | undefined;
  }

  /** The result of a validation. */
  export type Result<Output> = SuccessResult<Output> | FailureResult;

  /** A value that passed. */
  export interface SuccessResult<Output> {
    /** The validated value. */
    readonly value: Output;
    /** Absent on success. */
    readonly issues?: undefined;
  }

  /** A value that failed. */
  export interface FailureResult {
    /** Why it failed, one entry per problem. */
    readonly issues: ReadonlyArray<Issue>;
  }

  /** One validation problem. */
  export interface Issue {
    /** What is wrong, in words. */
    readonly message: string;
    /** Where it is: the keys from the root of the value. */
    readonly path?: ReadonlyArray<PropertyKey | PathSegment> | undefined;
  }

  /** One step of an issue's path. */
  export interface PathSegment {
    /** The key of this step. */
    readonly key: PropertyKey;
  }

  /** Static input and output types of a schema. */
  export interface Types<Input = unknown, Output = Input> {
    readonly input: Input;
    readonly output: Output;
  }

  /** What a schema accepts. */
  export type InferInput<Schema extends StandardSchemaV1> = NonNullable<
    Schema['~standard']['types']
  >['input'];

  /** What a schema returns on success. */
  export type InferOutput<Schema extends StandardSchemaV1> = NonNullable<
    Schema['~standard']['types']
  >['output'];
}
