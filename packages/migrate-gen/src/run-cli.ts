import { parseArgs } from 'node:util';
import type { TableNames } from '@pup/core';
import { isMigrationAdapter, migrationAdapters } from './adapters.js';
import { DEFAULT_FILE_NAME_SUFFIX } from './file-name.js';
import { DEFAULT_OUTPUT_DIR, generateMigration } from './generate.js';
import { writeMigration } from './write.js';

/** Exit codes of `pup-migrate-gen`. */
export const ExitCode = {
  /** The file was written (or the SQL printed). */
  ok: 0,
  /** Something unexpected failed. */
  failure: 1,
  /** Bad arguments, or the file exists or cannot be written; nothing was written. */
  usage: 2,
} as const;

/** Where the command writes, and what it reports as its version. */
export interface CliIo {
  /** Writes to standard output: the SQL (`--stdout`), the written path, help and version. */
  stdout(text: string): void;
  /** Writes to standard error: what went wrong. */
  stderr(text: string): void;
  /** What `--version` prints. */
  version: string;
}

const COMMAND = 'pup-migrate-gen';

const flags = {
  adapter: { type: 'string' },
  output: { type: 'string' },
  filename: { type: 'string' },
  'events-table': { type: 'string' },
  'aggregate-heads-table': { type: 'string' },
  'checkpoints-table': { type: 'string' },
  stdout: { type: 'boolean' },
  force: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const;

type Flag = keyof typeof flags;

/** The flag of each table name, keyed like the stores' `tables` option. */
const tableFlags: Record<keyof TableNames, Flag> = {
  events: 'events-table',
  aggregateHeads: 'aggregate-heads-table',
  checkpoints: 'checkpoints-table',
};

/** The flag of each option of `generateMigration` / `writeMigration`. */
const optionFlags: Record<string, string> = {
  adapter: '--adapter',
  output: '--output',
  fileName: '--filename',
  force: '--force',
  tables: '--events-table, --aggregate-heads-table, --checkpoints-table',
  ...Object.fromEntries(
    Object.entries(tableFlags).map(([key, flag]) => [`tables.${key}`, `--${flag}`]),
  ),
};

const USAGE = `Usage: ${COMMAND} --adapter <${migrationAdapters.join('|')}> [options]

Writes pup's event store schema as one SQL migration file for your own migration tool: exactly
the SQL the adapter's store.migrate() applies.

Options:
  --adapter <name>                ${migrationAdapters.join(', ')} (required)
  --output <dir>                  folder of the file, created if missing (default: ${DEFAULT_OUTPUT_DIR})
  --filename <name>               file name (default: UTC YYYYMMDDHHMMSS${DEFAULT_FILE_NAME_SUFFIX})
  --events-table <name>           events table (default: events)
  --aggregate-heads-table <name>  aggregate heads table (default: aggregate_heads)
  --checkpoints-table <name>      projection checkpoints table (default: projection_checkpoints)
  --stdout                        print the SQL instead of writing a file
  --force                         replace the file if it exists
  -h, --help                      show this help
  --version                       show the version

Table names are SQL identifiers, optionally schema-qualified (app.events), as in the store's
tables option. On success the path of the written file is printed.

Exit codes: 0 done; 2 bad arguments, or the file exists or cannot be written (nothing written);
1 unexpected failure.
`;

/** A problem with the command line, reported on stderr with exit code 2. */
class UsageError extends Error {}

interface ParsedArgs {
  values: Partial<Record<Flag, string | boolean>>;
}

function isFlag(name: string): name is Flag {
  return Object.hasOwn(flags, name);
}

/** Parses `argv` strictly: unknown, repeated or value-less flags and stray arguments are errors. */
function parse(argv: readonly string[]): ParsedArgs {
  const { tokens } = parseArgs({
    args: [...argv],
    options: flags,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const values: ParsedArgs['values'] = {};
  for (const token of tokens) {
    if (token.kind === 'positional') {
      throw new UsageError(`unexpected argument ${JSON.stringify(token.value)}`);
    }
    if (token.kind === 'option-terminator') continue;
    if (!isFlag(token.name)) {
      throw new UsageError(`unknown option ${token.rawName}`);
    }
    const flag = token.name;
    if (values[flag] !== undefined) {
      throw new UsageError(`${token.rawName} is given more than once`);
    }
    if (flags[flag].type === 'boolean') {
      if (token.value !== undefined) {
        throw new UsageError(`${token.rawName} takes no value`);
      }
      values[flag] = true;
    } else {
      const value = token.value;
      if (value === undefined || value === '' || (!token.inlineValue && value.startsWith('-'))) {
        throw new UsageError(`${token.rawName} needs a value`);
      }
      values[flag] = value;
    }
  }
  return { values };
}

function text(values: ParsedArgs['values'], flag: Flag): string | undefined {
  const value = values[flag];
  return typeof value === 'string' ? value : undefined;
}

/**
 * The message of an error from the options' validation, naming the flag instead of the option:
 * `--events-table: "a-b" is not a SQL identifier …`. Errors are matched by their stable `code`.
 */
function describeInvalidOption(error: unknown): string | undefined {
  const { code, option, argument, message } = error as {
    code?: unknown;
    option?: unknown;
    argument?: unknown;
    message?: unknown;
  };
  const name =
    code === 'INVALID_CONFIG' ? option : code === 'INVALID_ARGUMENT' ? argument : undefined;
  if (typeof name !== 'string' || typeof message !== 'string') return undefined;
  const prefix =
    code === 'INVALID_CONFIG' ? `Invalid configuration ${name}: ` : `Invalid ${name}: `;
  const reason = message.startsWith(prefix) ? message.slice(prefix.length) : message;
  return `${optionFlags[name] ?? name}: ${reason}`;
}

function describeWriteError(error: unknown): string | undefined {
  const { code, path, message } = error as { code?: unknown; path?: unknown; message?: unknown };
  if (code === 'MIGRATION_FILE_EXISTS') {
    return `${String(path)} already exists; pass --force to replace it`;
  }
  if (code === 'MIGRATION_WRITE_FAILED') {
    return String(message);
  }
  return undefined;
}

/**
 * Runs `pup-migrate-gen` with the arguments after the command name and returns its exit code.
 * Everything is checked before anything is written.
 * @internal
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const fail = (problem: string, { hint = true } = {}): number => {
    io.stderr(`${COMMAND}: ${problem}\n${hint ? `Run '${COMMAND} --help' for usage.\n` : ''}`);
    return ExitCode.usage;
  };

  let values: ParsedArgs['values'];
  try {
    ({ values } = parse(argv));
  } catch (error) {
    if (error instanceof UsageError) return fail(error.message);
    throw error;
  }
  if (values.help) {
    io.stdout(USAGE);
    return ExitCode.ok;
  }
  if (values.version) {
    io.stdout(`${io.version}\n`);
    return ExitCode.ok;
  }

  const adapter = text(values, 'adapter');
  if (adapter === undefined) {
    return fail(`--adapter is required (${migrationAdapters.join(', ')})`);
  }
  if (!isMigrationAdapter(adapter)) {
    return fail(
      `--adapter: ${JSON.stringify(adapter)} is not one of ${migrationAdapters.join(', ')}`,
    );
  }
  if (values.stdout) {
    const conflicting = (['output', 'filename', 'force'] as const).filter(
      (flag) => values[flag] !== undefined,
    );
    if (conflicting.length > 0) {
      return fail(`--stdout writes no file: drop --${conflicting.join(', --')}`);
    }
  }
  const tables: Partial<TableNames> = {};
  for (const [key, flag] of Object.entries(tableFlags) as [keyof TableNames, Flag][]) {
    const name = text(values, flag);
    if (name !== undefined) tables[key] = name;
  }
  const options = {
    adapter,
    tables,
    output: text(values, 'output'),
    fileName: text(values, 'filename'),
    force: values.force === true,
  };

  try {
    if (values.stdout) {
      io.stdout(generateMigration(options).sql);
    } else {
      const { path } = await writeMigration(options);
      io.stdout(`${path}\n`);
    }
    return ExitCode.ok;
  } catch (error) {
    const invalid = describeInvalidOption(error);
    if (invalid !== undefined) return fail(invalid);
    const unwritten = describeWriteError(error);
    if (unwritten !== undefined) return fail(unwritten, { hint: false });
    io.stderr(
      `${COMMAND}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    return ExitCode.failure;
  }
}
