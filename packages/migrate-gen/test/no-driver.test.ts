import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateMigration, migrationAdapters } from '../src/index.js';
import { packageRoot, workspacePackages } from './paths.js';

/**
 * The published packages installed the way a user installs them, into a project of their own
 * where no database driver exists: the workspace packages are packed with pnpm (which rewrites
 * `workspace:` ranges), then installed from the tarballs with npm, offline and without peers.
 */

const repositoryRoot = join(packageRoot, '..', '..');
const drivers = ['pg', 'postgres', 'better-sqlite3', 'mysql2'];

/** The environment of the user's shell: no workspace resolution, no npm settings of this run. */
function userEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(npm_|pnpm_|NODE_PATH$|NODE_OPTIONS$|VITEST)/i.test(key)) env[key] = value;
  }
  env.PATH = [dirname(process.execPath), process.env.PATH ?? ''].join(delimiter);
  return env;
}

describe('the packed packages in a project without any database driver', () => {
  let folder: string;
  let project: string;
  const env = userEnvironment();

  beforeAll(() => {
    folder = mkdtempSync(join(tmpdir(), 'pup-migrate-gen-no-driver-'));
    const tarballs = join(folder, 'tarballs');
    project = join(folder, 'project');
    mkdirSync(project);
    const { packageManager } = JSON.parse(
      readFileSync(join(repositoryRoot, 'package.json'), 'utf8'),
    ) as { packageManager: string };
    execFileSync(
      'npx',
      [
        '-y',
        packageManager,
        ...workspacePackages.flatMap((name) => ['--filter', `./packages/${name}`]),
        'pack',
        '--pack-destination',
        tarballs,
      ],
      { cwd: repositoryRoot, env, stdio: 'pipe' },
    );
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'no-driver-project', private: true, type: 'module' }),
    );
    execFileSync(
      'npm',
      [
        'install',
        '--offline',
        '--legacy-peer-deps',
        '--ignore-scripts',
        '--no-audit',
        '--no-fund',
        ...readdirSync(tarballs).map((file) => join(tarballs, file)),
      ],
      { cwd: project, env, stdio: 'pipe' },
    );
  }, 60_000);

  afterAll(() => {
    if (folder !== undefined) rmSync(folder, { recursive: true, force: true });
  });

  it('has only the pup packages installed, and no driver resolves', () => {
    expect(readdirSync(join(project, 'node_modules', '@pup')).sort()).toEqual(
      [...workspacePackages].sort(),
    );
    const probe = `
      import { createRequire } from 'node:module';
      const require = createRequire(import.meta.url);
      const found = [];
      for (const name of ${JSON.stringify(drivers)}) {
        try { require.resolve(name); found.push(name); } catch {}
        try { import.meta.resolve(name); found.push(name + ' (ESM)'); } catch {}
      }
      console.log(JSON.stringify(found));`;
    writeFileSync(join(project, 'probe.mjs'), probe);
    const output = execFileSync(process.execPath, ['probe.mjs'], { cwd: project, env });
    expect(JSON.parse(output.toString())).toEqual([]);
  });

  for (const adapter of migrationAdapters) {
    it(`pup-migrate-gen --adapter ${adapter} runs from node_modules/.bin and prints the same bytes`, () => {
      const run = spawnSync(
        join(project, 'node_modules', '.bin', 'pup-migrate-gen'),
        ['--adapter', adapter, '--stdout'],
        { cwd: project, env, encoding: 'utf8' },
      );
      expect(run.stderr).toBe('');
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout).toBe(generateMigration({ adapter }).sql);
    });
  }

  it('writes the file, and the API loads from ESM and CommonJS', () => {
    const run = spawnSync(
      join(project, 'node_modules', '.bin', 'pup-migrate-gen'),
      ['--adapter', 'sqlite', '--filename', 'init.sql'],
      { cwd: project, env, encoding: 'utf8' },
    );
    expect(run.status, run.stderr).toBe(0);
    expect(readFileSync(join(project, 'migrations', 'init.sql'), 'utf8')).toBe(
      generateMigration({ adapter: 'sqlite' }).sql,
    );

    writeFileSync(
      join(project, 'api.mjs'),
      `import { createRequire } from 'node:module';
      import { generateMigration } from '@pup/migrate-gen';
      const cjs = createRequire(import.meta.url)('@pup/migrate-gen');
      const options = { adapter: 'postgres', now: new Date(0) };
      console.log(JSON.stringify([generateMigration(options), cjs.generateMigration(options)]));`,
    );
    const output = execFileSync(process.execPath, ['api.mjs'], { cwd: project, env });
    const expected = generateMigration({ adapter: 'postgres', now: new Date(0) });
    expect(expected.fileName).toBe('19700101000000_init_event_sourcing.sql');
    expect(JSON.parse(output.toString())).toEqual([expected, expected]);
  });
});
