import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { InvalidArgumentError } from '@pup/core';
import { MigrationFileExistsError, MigrationWriteError } from './errors.js';
import {
  type GeneratedMigration,
  type GenerateMigrationOptions,
  generateMigration,
} from './generate.js';

/** Options of {@link writeMigration}: those of `generateMigration`, and `force`. */
export interface WriteMigrationOptions extends GenerateMigrationOptions {
  /**
   * Replace the file when it exists (`--force`). Without it an existing file is left alone and
   * `MigrationFileExistsError` is thrown.
   * @default false
   */
  force?: boolean;
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function errorCode(error: unknown): unknown {
  return (error as { code?: unknown } | null)?.code;
}

/** Creates `path` holding `sql`; never replaces a file, and removes what it wrote if it fails. */
async function createFile(path: string, sql: string): Promise<void> {
  const file = await open(path, 'wx');
  try {
    await file.writeFile(sql);
    await file.close();
  } catch (error) {
    await file.close().catch(() => {});
    await rm(path, { force: true });
    throw error;
  }
}

/** Replaces `path` with `sql` through a temporary file, so a failure leaves the old file whole. */
async function replaceFile(path: string, sql: string): Promise<void> {
  const temporary = join(dirname(path), `.${randomBytes(6).toString('hex')}.pup-migrate-gen.tmp`);
  try {
    await createFile(temporary, sql);
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/**
 * Generates the migration (see `generateMigration`) and writes it to `path`, creating the output
 * folder when missing: what `pup-migrate-gen` does without `--stdout`. All options are checked
 * before anything touches the disk, and a failure leaves nothing behind.
 *
 * @example
 * const { path } = await writeMigration({ adapter: 'sqlite', output: 'db/migrations' });
 *
 * @throws {InvalidArgumentError} on an invalid option (see `generateMigration`).
 * @throws {InvalidConfigError} on an invalid or repeated table name.
 * @throws {MigrationFileExistsError} when the file exists and `force` is not set.
 * @throws {MigrationWriteError} when the folder or the file cannot be written.
 */
export async function writeMigration(options: WriteMigrationOptions): Promise<GeneratedMigration> {
  const migration = generateMigration(options);
  const force = options.force ?? false;
  if (typeof force !== 'boolean') {
    throw new InvalidArgumentError('force', 'must be a boolean');
  }
  const { path, sql } = migration;

  let createdFolder: string | undefined;
  try {
    createdFolder = await mkdir(dirname(path), { recursive: true });
  } catch (error) {
    throw new MigrationWriteError(path, reason(error), { cause: error });
  }
  try {
    await (force ? replaceFile(path, sql) : createFile(path, sql));
  } catch (error) {
    if (createdFolder !== undefined) {
      await rm(createdFolder, { recursive: true, force: true });
    }
    if (errorCode(error) === 'EEXIST') {
      throw new MigrationFileExistsError(path);
    }
    throw new MigrationWriteError(path, reason(error), { cause: error });
  }
  return migration;
}
