import { InvalidArgumentError } from '@pup/core';

/** What the default file name ends with, after the UTC timestamp. */
export const DEFAULT_FILE_NAME_SUFFIX = '_init_event_sourcing.sql';

const MAX_FILE_NAME_LENGTH = 255;

/** `now` in UTC as `YYYYMMDDHHMMSS`, the version prefix most migration tools sort by. */
export function migrationTimestamp(now: Date): string {
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  return (
    pad(now.getUTCFullYear(), 4) +
    pad(now.getUTCMonth() + 1) +
    pad(now.getUTCDate()) +
    pad(now.getUTCHours()) +
    pad(now.getUTCMinutes()) +
    pad(now.getUTCSeconds())
  );
}

/**
 * The default migration file name for `now`: its UTC timestamp and `_init_event_sourcing.sql`.
 *
 * @example
 * defaultMigrationFileName(new Date('2025-03-14T15:09:26Z')); // '20250314150926_init_event_sourcing.sql'
 */
export function defaultMigrationFileName(now: Date): string {
  return `${migrationTimestamp(now)}${DEFAULT_FILE_NAME_SUFFIX}`;
}

/**
 * Checks that `fileName` names a file inside the output folder: no path separator, not `.` or
 * `..`, no NUL, at most 255 characters.
 * @throws {InvalidArgumentError} otherwise.
 */
export function checkFileName(fileName: unknown): string {
  if (typeof fileName !== 'string' || fileName === '') {
    throw new InvalidArgumentError('fileName', 'must be a non-empty string');
  }
  if (fileName.includes('/') || fileName.includes('\\')) {
    throw new InvalidArgumentError(
      'fileName',
      `${JSON.stringify(fileName)} contains a path separator; name the folder with the output option`,
    );
  }
  if (fileName === '.' || fileName === '..' || fileName.includes('\0')) {
    throw new InvalidArgumentError('fileName', `${JSON.stringify(fileName)} is not a file name`);
  }
  if (fileName.length > MAX_FILE_NAME_LENGTH) {
    throw new InvalidArgumentError(
      'fileName',
      `is ${fileName.length} characters long, at most ${MAX_FILE_NAME_LENGTH} are allowed`,
    );
  }
  return fileName;
}
