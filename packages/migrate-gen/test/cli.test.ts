import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateMigration, migrationAdapters } from '../src/index.js';
import { packageRoot, requireHere } from './paths.js';
import { listTree, runCli, temporaryFolder } from './support.js';

type Api = typeof import('../src/index.js');

const { version } = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as {
  version: string;
};

/** `YYYYMMDDHHMMSS` of `date` in UTC, compared as a number. */
function utcStamp(date: Date): number {
  return Number(date.toISOString().slice(0, 19).replace(/\D/g, ''));
}

describe('pup-migrate-gen', () => {
  it('prints its usage with --help and writes nothing', () => {
    const cwd = temporaryFolder();
    const run = runCli(['--help'], cwd);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^Usage: pup-migrate-gen --adapter <postgres\|mysql\|sqlite>/);
    for (const flag of [
      '--output',
      '--filename',
      '--events-table',
      '--aggregate-heads-table',
      '--checkpoints-table',
      '--stdout',
      '--force',
      '--version',
    ]) {
      expect(run.stdout).toContain(flag);
    }
    expect(run.stderr).toBe('');
    expect(listTree(cwd)).toEqual([]);
  });

  it('prints the package version with --version', () => {
    const run = runCli(['--version'], temporaryFolder());
    expect(run).toEqual({ status: 0, stdout: `${version}\n`, stderr: '' });
  });

  for (const adapter of migrationAdapters) {
    it(`prints the ${adapter} schema with --stdout, the same bytes as generateMigration (ESM and CommonJS builds)`, async () => {
      const cwd = temporaryFolder();
      const tables = { events: 'es_events', checkpoints: 'es_checkpoints' };
      const run = runCli(
        [
          '--adapter',
          adapter,
          '--stdout',
          '--events-table',
          'es_events',
          '--checkpoints-table=es_checkpoints',
        ],
        cwd,
      );
      expect(run.status, run.stderr).toBe(0);
      expect(run.stderr).toBe('');
      const esm = (await import(join(packageRoot, 'dist', 'index.js'))) as Api;
      const cjs = requireHere(join(packageRoot, 'dist', 'index.cjs')) as Api;
      for (const api of [esm, cjs]) {
        expect(run.stdout).toBe(api.generateMigration({ adapter, tables }).sql);
      }
      expect(run.stdout).toBe(generateMigration({ adapter, tables }).sql);
      expect(listTree(cwd)).toEqual([]);
    });
  }

  it('writes migrations/<UTC YYYYMMDDHHMMSS>_init_event_sourcing.sql by default, whatever the time zone', () => {
    const cwd = temporaryFolder();
    const before = utcStamp(new Date());
    const run = runCli(['--adapter', 'sqlite'], cwd, { TZ: 'Pacific/Kiritimati' });
    const after = utcStamp(new Date());
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toBe('');
    const [folder, file] = listTree(cwd);
    expect(folder).toBe('migrations');
    const match = /^migrations\/(\d{14})_init_event_sourcing\.sql$/.exec(file ?? '');
    expect(match).not.toBeNull();
    const stamp = Number(match![1]);
    expect(stamp).toBeGreaterThanOrEqual(before);
    expect(stamp).toBeLessThanOrEqual(after);
    expect(run.stdout).toBe(`${file}\n`);
    expect(readFileSync(join(cwd, file!), 'utf8')).toBe(
      generateMigration({ adapter: 'sqlite' }).sql,
    );
  });

  it('writes to --output (created with its parents) under --filename, with the table flags', () => {
    const cwd = temporaryFolder();
    const run = runCli(
      [
        '--adapter=postgres',
        '--output',
        'db/pup/migrations',
        '--filename',
        'V1__event_store.sql',
        '--events-table',
        'app.events',
        '--aggregate-heads-table',
        'app.heads',
        '--checkpoints-table',
        'app.checkpoints',
      ],
      cwd,
    );
    expect(run.status, run.stderr).toBe(0);
    const path = join('db', 'pup', 'migrations', 'V1__event_store.sql');
    expect(run.stdout).toBe(`${path}\n`);
    const expected = generateMigration({
      adapter: 'postgres',
      output: 'db/pup/migrations',
      fileName: 'V1__event_store.sql',
      tables: { events: 'app.events', aggregateHeads: 'app.heads', checkpoints: 'app.checkpoints' },
    });
    expect(expected.path).toBe(path);
    expect(readFileSync(join(cwd, path), 'utf8')).toBe(expected.sql);
    expect(expected.sql).toContain('"app"."heads"');
  });

  it('writes into an absolute --output', () => {
    const cwd = temporaryFolder();
    const output = join(temporaryFolder(), 'migrations');
    const run = runCli(['--adapter', 'postgres', '--output', output, '--filename', 'x.sql'], cwd);
    expect(run.status, run.stderr).toBe(0);
    expect(readFileSync(join(output, 'x.sql'), 'utf8')).toBe(
      generateMigration({ adapter: 'postgres' }).sql,
    );
    expect(listTree(cwd)).toEqual([]);
  });

  it('refuses to replace an existing file (exit 2) unless --force is given', () => {
    const cwd = temporaryFolder();
    mkdirSync(join(cwd, 'migrations'));
    const path = join(cwd, 'migrations', 'init.sql');
    writeFileSync(path, '-- mine\n');

    const refused = runCli(['--adapter', 'sqlite', '--filename', 'init.sql'], cwd);
    expect(refused.status).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain(`${join('migrations', 'init.sql')} already exists`);
    expect(refused.stderr).toContain('--force');
    expect(readFileSync(path, 'utf8')).toBe('-- mine\n');

    const forced = runCli(['--adapter', 'sqlite', '--filename', 'init.sql', '--force'], cwd);
    expect(forced.status).toBe(0);
    expect(readFileSync(path, 'utf8')).toBe(generateMigration({ adapter: 'sqlite' }).sql);
    expect(listTree(cwd)).toEqual(['migrations', join('migrations', 'init.sql')]);
  });

  describe('bad arguments: a message on stderr, exit code 2, nothing written', () => {
    const cases: [string, string[], RegExp][] = [
      ['no argument', [], /--adapter is required/],
      ['--adapter without a value', ['--adapter'], /--adapter needs a value/],
      ['an empty --adapter', ['--adapter='], /--adapter needs a value/],
      ['a flag as the value', ['--adapter', '--stdout'], /--adapter needs a value/],
      [
        'an unknown adapter',
        ['--adapter', 'oracle'],
        /--adapter: "oracle" is not one of postgres, mysql, sqlite/,
      ],
      ['an unknown flag', ['--adapter', 'postgres', '--verbose'], /unknown option --verbose/],
      ['an unknown short flag', ['--adapter', 'postgres', '-x'], /unknown option -x/],
      ['a stray argument', ['--adapter', 'postgres', 'init'], /unexpected argument "init"/],
      ['an argument after --', ['--adapter', 'postgres', '--', 'x'], /unexpected argument "x"/],
      [
        'a repeated flag',
        ['--adapter', 'postgres', '--adapter', 'sqlite'],
        /--adapter is given more than once/,
      ],
      ['a value on a switch', ['--adapter', 'postgres', '--force=yes'], /--force takes no value/],
      ['--output without a value', ['--adapter', 'postgres', '--output'], /--output needs a value/],
      [
        '--filename with a folder',
        ['--adapter', 'postgres', '--filename', 'sub/x.sql'],
        /--filename: "sub\/x\.sql" contains a path separator/,
      ],
      [
        '--filename with a backslash',
        ['--adapter', 'postgres', '--filename', '..\\x.sql'],
        /--filename: .* contains a path separator/,
      ],
      [
        '--filename ..',
        ['--adapter', 'postgres', '--filename', '..'],
        /--filename: "\.\." is not a file name/,
      ],
      [
        'an invalid table name',
        ['--adapter', 'postgres', '--events-table', 'bad-name'],
        /--events-table: "bad-name" is not a SQL identifier/,
      ],
      [
        'a table name with three parts',
        ['--adapter', 'sqlite', '--checkpoints-table', 'a.b.c'],
        /--checkpoints-table: "a\.b\.c" is not a SQL identifier/,
      ],
      [
        'a table name that is too long',
        ['--adapter', 'postgres', '--aggregate-heads-table', 'h'.repeat(64)],
        /--aggregate-heads-table: .* is not a SQL identifier/,
      ],
      [
        'two tables with one name',
        ['--adapter', 'postgres', '--events-table', 'log', '--checkpoints-table', 'LOG'],
        /the three table names must differ/,
      ],
      [
        'a table named like a default one',
        ['--adapter', 'sqlite', '--aggregate-heads-table', 'events'],
        /the three table names must differ/,
      ],
      [
        'a table named like one the MySQL store derives (the adapter’s own check)',
        ['--adapter', 'mysql', '--checkpoints-table', 'events_meta'],
        /--checkpoints-table: "events_meta" is the name of a table the store derives from tables\.events/,
      ],
      [
        '--stdout with --output',
        ['--adapter', 'postgres', '--stdout', '--output', 'x'],
        /--stdout writes no file: drop --output/,
      ],
      [
        '--stdout with --force',
        ['--adapter', 'postgres', '--stdout', '--force'],
        /--stdout writes no file: drop --force/,
      ],
    ];
    for (const [what, args, message] of cases) {
      it(what, () => {
        const cwd = temporaryFolder();
        const run = runCli(args, cwd);
        expect(run.status, run.stderr).toBe(2);
        expect(run.stdout).toBe('');
        expect(run.stderr).toMatch(/^pup-migrate-gen: /);
        expect(run.stderr).toMatch(message);
        expect(listTree(cwd)).toEqual([]);
      });
    }

    it('an output folder that cannot be created', () => {
      const cwd = temporaryFolder();
      writeFileSync(join(cwd, 'blocker'), '');
      const run = runCli(['--adapter', 'postgres', '--output', 'blocker/migrations'], cwd);
      expect(run.status, run.stderr).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(
        /^pup-migrate-gen: Cannot write blocker\/migrations\/\d{14}_init_event_sourcing\.sql: ENOTDIR/,
      );
      expect(listTree(cwd)).toEqual(['blocker']);
    });

    it('a file name taken by a folder, even with --force', () => {
      const cwd = temporaryFolder();
      mkdirSync(join(cwd, 'migrations', 'init.sql'), { recursive: true });
      const run = runCli(['--adapter', 'postgres', '--filename', 'init.sql', '--force'], cwd);
      expect(run.status, run.stderr).toBe(2);
      expect(run.stderr).toMatch(/Cannot write migrations\/init\.sql/);
      expect(listTree(cwd)).toEqual(['migrations', join('migrations', 'init.sql')]);
      expect(existsSync(join(cwd, 'migrations', 'init.sql'))).toBe(true);
    });
  });
});
