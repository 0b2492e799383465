/** Stable codes of the errors `writeMigration` adds to those of `generateMigration`. */
export type MigrationErrorCode = 'MIGRATION_FILE_EXISTS' | 'MIGRATION_WRITE_FAILED';

/** Base class of the errors of writing a migration file. Match on `code`, not on the message. */
export class MigrationError extends Error {
  /** Stable machine-readable code. */
  readonly code: MigrationErrorCode;
  /** The file that was to be written. */
  readonly path: string;

  constructor(
    code: MigrationErrorCode,
    path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.path = path;
    this.name = new.target.name;
  }
}

/** The migration file already exists and `force` was not set; nothing was written. */
export class MigrationFileExistsError extends MigrationError {
  constructor(path: string) {
    super('MIGRATION_FILE_EXISTS', path, `${path} already exists`);
  }
}

/**
 * The output folder could not be created or the file could not be written (a file in the way,
 * no permission, a full disk). `cause` holds the file system's error. Folders created for the
 * file are removed again, so nothing is left behind.
 */
export class MigrationWriteError extends MigrationError {
  constructor(path: string, reason: string, options?: { cause?: unknown }) {
    super('MIGRATION_WRITE_FAILED', path, `Cannot write ${path}: ${reason}`, options);
  }
}
