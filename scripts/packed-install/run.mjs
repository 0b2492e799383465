#!/usr/bin/env node
// Installs the packages the way a user gets them, from the tarballs, and checks they work there.
//
// 1. Packs every public package under packages/ with `pnpm pack` (as the release does: it turns
//    `workspace:` ranges into real ones) and checks each tarball: README.md, LICENSE and the
//    manifest's metadata are in it, and no `workspace:` range is left.
// 2. Types of every `exports` subpath, with @arethetypeswrong/cli (pinned in the root
//    devDependencies; it runs on Node.js 20) on each tarball: no problem under node16 (from ESM
//    and from CommonJS) or bundler resolution, and `import` resolves to .d.ts while `require`
//    resolves to .d.cts. It reads the pnpm tarballs: its own `--pack` packs with npm, which
//    leaves `workspace:` ranges in. The `node16` profile leaves out node10
//    (`moduleResolution: node`), which ignores `exports` altogether: the subpaths
//    (`@pup/core/adapter`, …) cannot resolve there, and the packages need Node.js 20 anyway.
// 3. Per driver (SQLite with better-sqlite3, PostgreSQL with pg and with postgres.js, MySQL with
//    mysql2), in a fresh folder outside the workspace: `npm init -y`, then `npm install` of only
//    the @pup/core tarball, the adapter's tarball, the driver and its @types if it has no types
//    of its own, typescript and @types/node, at the workspace's versions (better-sqlite3 gets the
//    workspace's binary of that version: see betterSqlite3Prebuild). Then an ESM program and a CommonJS program run the same checks
//    (fixtures/scenario.cjs: migrate, append, read back, checkpoints, a ProjectionProcessor and a
//    ProjectionWorker run to the end of the log, the error classes), and a TypeScript program
//    (fixtures/types/) is type-checked with `strict` and without `skipLibCheck` three times:
//    node16 as ESM (.mts), node16 as CommonJS (.cts), and esnext with bundler resolution.
//    PostgreSQL and MySQL come from PUP_TEST_POSTGRES_URL / PUP_TEST_MYSQL_URL (defaults:
//    postgres://postgres@127.0.0.1:5432/test, mysql://root@127.0.0.1:3306/test); each program
//    works in a schema or database of its own and drops it. An unreachable database fails.
// 4. @pup/migrate-gen from its tarball (with the adapters' tarballs and no driver): `npx
//    pup-migrate-gen --help` and `--version`, and a file per adapter that must be byte for byte
//    the adapter's schema SQL (checked through ESM and CommonJS).
//
//   node scripts/packed-install/run.mjs [--skip-build] [--keep] [--only sqlite,pg,...]
//
// --skip-build  pack the dist/ folders as they are (CI builds first); default: build first
// --keep        keep the scratch folder (its path is printed)
// --only        run only these parts: types, sqlite, pg, postgres-js, mysql, migrate-gen
import { spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, 'fixtures');
const repo = resolve(here, '../..');
const PNPM = ['-y', 'pnpm@10.34.8'];
const NPM_INSTALL = ['install', '--no-audit', '--no-fund', '--loglevel=error'];

const PARTS = ['types', 'sqlite', 'pg', 'postgres-js', 'mysql', 'migrate-gen'];
const options = parseArguments(process.argv.slice(2));

/** Step time limits (ms): a hung step fails instead of stalling CI. */
const LIMITS = { pack: 120_000, install: 300_000, program: 90_000, tsc: 120_000, tool: 60_000 };

/**
 * One scratch project per driver. `packages` are installed from their tarballs, `dependencies`
 * from the registry at the workspace's versions.
 */
const PROJECTS = [
  {
    id: 'sqlite',
    title: 'SQLite with better-sqlite3',
    packages: ['@pup/core', '@pup/sqlite'],
    dependencies: ['better-sqlite3', '@types/better-sqlite3', 'typescript', '@types/node'],
  },
  {
    id: 'pg',
    title: 'PostgreSQL with pg',
    packages: ['@pup/core', '@pup/postgres'],
    dependencies: ['pg', '@types/pg', 'typescript', '@types/node'],
  },
  {
    id: 'postgres-js',
    title: 'PostgreSQL with postgres (postgres.js)',
    packages: ['@pup/core', '@pup/postgres'],
    dependencies: ['postgres', 'typescript', '@types/node'],
  },
  {
    id: 'mysql',
    title: 'MySQL/MariaDB with mysql2',
    packages: ['@pup/core', '@pup/mysql'],
    dependencies: ['mysql2', 'typescript', '@types/node'],
  },
  {
    id: 'migrate-gen',
    title: '@pup/migrate-gen (no driver)',
    packages: ['@pup/core', '@pup/sqlite', '@pup/postgres', '@pup/mysql', '@pup/migrate-gen'],
    dependencies: [],
  },
];

/** Where each registry dependency's workspace version is read (its installed package.json). */
const VERSION_SOURCES = {
  'better-sqlite3': 'packages/sqlite',
  '@types/better-sqlite3': 'packages/sqlite',
  pg: 'packages/postgres',
  '@types/pg': 'packages/postgres',
  postgres: 'packages/postgres',
  mysql2: 'packages/mysql',
  typescript: '.',
  '@types/node': '.',
};

/** The three type-checks of every driver's TypeScript program. */
const TYPE_CHECKS = [
  {
    name: 'node16, ESM (.mts)',
    file: 'program.mts',
    compilerOptions: { module: 'node16', moduleResolution: 'node16' },
    declarations: '.d.ts',
  },
  {
    name: 'node16, CommonJS (.cts)',
    file: 'program.cts',
    compilerOptions: { module: 'node16', moduleResolution: 'node16' },
    declarations: '.d.cts',
  },
  {
    name: 'esnext, bundler',
    file: 'program.ts',
    compilerOptions: { module: 'esnext', moduleResolution: 'bundler' },
    declarations: '.d.ts',
  },
];

function parseArguments(args) {
  const parsed = { skipBuild: false, keep: false, only: new Set(PARTS) };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--skip-build') parsed.skipBuild = true;
    else if (arg === '--keep') parsed.keep = true;
    else if (arg === '--only' && i + 1 < args.length) {
      parsed.only = new Set(args[++i].split(','));
      for (const part of parsed.only) {
        if (!PARTS.includes(part)) usage(`unknown part ${part}`);
      }
    } else usage(`unknown argument ${arg}`);
  }
  return parsed;
}

function usage(message) {
  console.error(`${message}\nusage: run.mjs [--skip-build] [--keep] [--only ${PARTS.join(',')}]`);
  process.exit(2);
}

// ---------------------------------------------------------------------------------------------
// Running commands and recording results

/** Every check's outcome, for the summary. */
const results = [];

function seconds(ms) {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Indents a command's output under its failure line. */
function indent(text) {
  const trimmed = text.replace(/^\s*\n/, '').trimEnd();
  return trimmed === '' ? '      (no output)' : trimmed.replace(/^/gm, '      ');
}

/** A check that failed: `detail` is printed under it. */
class CheckFailed extends Error {
  constructor(message, detail = '') {
    super(message);
    this.detail = detail;
  }
}

/** The process groups of the commands still running, killed if the run is interrupted. */
const running = new Set();

function killGroup(child) {
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

/**
 * Runs a command without a shell; resolves with its exit status and output (never rejects).
 * Past `timeoutMs` its whole process group is killed.
 */
function exec(command, args, { cwd, timeoutMs, env }) {
  return new Promise((resolvePromise) => {
    const started = Date.now();
    const child = spawn(command, args, {
      cwd,
      env: env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    let stdout = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    running.add(child);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child);
    }, timeoutMs);
    const finish = (code, signal, error) => {
      clearTimeout(timer);
      running.delete(child);
      resolvePromise({ code, signal, error, stdout, output, timedOut, ms: Date.now() - started });
    };
    child.on('error', (error) => finish(null, null, error));
    child.on('close', (code, signal) => finish(code, signal, undefined));
  });
}

/** Runs a command and throws {@link CheckFailed} with its output unless it exits with 0. */
async function mustRun(command, args, { cwd, timeoutMs, env }) {
  const result = await exec(command, args, { cwd, timeoutMs, env });
  if (result.code !== 0) {
    const how = result.timedOut
      ? `did not finish within ${seconds(timeoutMs)}`
      : result.error
        ? result.error.message
        : result.signal
          ? `ended by ${result.signal}`
          : `exit code ${result.code}`;
    throw new CheckFailed(`${command} ${args.join(' ')}: ${how}`, result.output);
  }
  return result;
}

/** Runs one check of `group`, records it and prints its line at once. */
async function check(group, name, fn) {
  const started = Date.now();
  try {
    const note = await fn();
    const ms = Date.now() - started;
    results.push({ group, name, ok: true, ms });
    const shown = typeof note === 'string' && note !== '' ? `\n      ${note}` : '';
    console.log(`ok    ${group}: ${name} (${seconds(ms)})${shown}`);
    return true;
  } catch (error) {
    const ms = Date.now() - started;
    results.push({ group, name, ok: false, ms });
    const detail = error instanceof CheckFailed ? error.detail : (error?.stack ?? String(error));
    console.log(`FAIL  ${group}: ${name} (${seconds(ms)})`);
    console.log(`      ${error?.message ?? error}`);
    if (detail) console.log(indent(detail));
    return false;
  }
}

/** Records checks that could not run because an earlier one of their group failed. */
function notRun(group, names) {
  for (const name of names) {
    results.push({ group, name: `${name} (not run)`, ok: false, ms: 0 });
    console.log(`FAIL  ${group}: ${name} (not run: an earlier step failed)`);
  }
}

// ---------------------------------------------------------------------------------------------
// The workspace: packages, tarballs, versions

function readJson(file) {
  return JSON.parse(readFileSync(file, 'utf8'));
}

/** The public packages under packages/, by name. */
function publicPackages() {
  const found = new Map();
  for (const dir of readdirSync(join(repo, 'packages')).sort()) {
    const file = join(repo, 'packages', dir, 'package.json');
    if (!existsSync(file)) continue;
    const manifest = readJson(file);
    if (!manifest.private) found.set(manifest.name, { dir: join(repo, 'packages', dir), manifest });
  }
  return found;
}

/** The version the workspace installed (from its lockfile) of each registry dependency. */
function workspaceVersions() {
  const versions = {};
  for (const [name, where] of Object.entries(VERSION_SOURCES)) {
    const file = join(repo, where, 'node_modules', name, 'package.json');
    if (!existsSync(file)) {
      throw new CheckFailed(
        `${name} is not installed in ${where}: run \`npx -y pnpm@10.34.8 install\` first`,
      );
    }
    versions[name] = readJson(file).version;
  }
  return versions;
}

/** Lists a tarball's files (without the leading `package/`). */
async function tarballFiles(tarball) {
  const result = await mustRun('tar', ['-tzf', tarball], { timeoutMs: LIMITS.tool });
  return result.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => line.replace(/^package\//, ''));
}

async function tarballManifest(tarball) {
  const result = await mustRun('tar', ['-xzOf', tarball, 'package/package.json'], {
    timeoutMs: LIMITS.tool,
  });
  return JSON.parse(result.stdout);
}

/** Every file a manifest points to: `exports` targets (all conditions), `main`, `types`, `bin`. */
function manifestTargets(manifest) {
  const targets = new Set();
  const walk = (value) => {
    if (typeof value === 'string') targets.add(value.replace(/^\.\//, ''));
    else if (value && typeof value === 'object') Object.values(value).forEach(walk);
  };
  walk(manifest.exports);
  walk(manifest.bin);
  for (const field of ['main', 'module', 'types']) walk(manifest[field]);
  return [...targets].filter((target) => !target.includes('*'));
}

/** What every published manifest must carry. */
const REQUIRED_METADATA = ['description', 'license', 'repository', 'homepage', 'bugs', 'keywords'];

/** Checks what a tarball holds; returns a one-line note. */
async function checkTarball(name, tarball) {
  const files = new Set(await tarballFiles(tarball));
  const manifest = await tarballManifest(tarball);
  const problems = [];
  for (const file of ['package.json', 'README.md', 'LICENSE']) {
    if (!files.has(file)) problems.push(`${file} is missing`);
  }
  // A build that was cleaned or half-written when packing shows up here, not as odd type errors.
  for (const target of manifestTargets(manifest)) {
    if (!files.has(target)) problems.push(`${target} (named in package.json) is missing`);
  }
  if (manifest.license !== 'MIT') problems.push(`license is ${manifest.license}, not MIT`);
  for (const field of REQUIRED_METADATA) {
    if (manifest[field] === undefined) problems.push(`package.json has no ${field}`);
  }
  for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
    for (const [dependency, range] of Object.entries(manifest[field] ?? {})) {
      if (String(range).startsWith('workspace:')) {
        problems.push(`${field}.${dependency} is still ${range}`);
      }
    }
  }
  if (problems.length > 0) {
    throw new CheckFailed(`${name}: ${problems.length} problem(s)`, problems.join('\n'));
  }
  return `${files.size} files: README.md, LICENSE and every file package.json names; no workspace: range`;
}

/**
 * Runs @arethetypeswrong/cli on one tarball and checks, for every subpath with types, that
 * `require` resolves to a .d.cts and `import` (node16 and bundler) to a .d.ts.
 */
async function checkTypes(name, tarball) {
  const attw = join(repo, 'node_modules', '.bin', 'attw');
  if (!existsSync(attw)) {
    throw new CheckFailed(`${attw} is missing: run \`npx -y pnpm@10.34.8 install\` first`);
  }
  const args = [tarball, '--profile', 'node16', '--no-definitely-typed', '--format', 'json'];
  const result = await exec(attw, args, { cwd: repo, timeoutMs: LIMITS.tool });
  let report;
  try {
    report = JSON.parse(result.stdout);
  } catch {
    throw new CheckFailed(`attw ${args.join(' ')} printed no report`, result.output);
  }
  const problems = Object.values(report.problems ?? {})
    .flat()
    .filter((problem) => problem.resolutionKind !== 'node10');
  const wrong = problems.map(
    (problem) => `${problem.kind} (${problem.entrypoint ?? ''} ${problem.resolutionKind ?? ''})`,
  );
  const lines = [];
  const expected = { 'node16-cjs': '.d.cts', 'node16-esm': '.d.ts', bundler: '.d.ts' };
  for (const [subpath, entrypoint] of Object.entries(report.analysis.entrypoints)) {
    if (!entrypoint.hasTypes) continue;
    const found = [];
    for (const [kind, extension] of Object.entries(expected)) {
      const file = entrypoint.resolutions[kind]?.resolution?.fileName ?? '(none)';
      const shown = file.replace(/^\/node_modules\/[^/]+\/[^/]+\//, '');
      if (!file.endsWith(extension))
        wrong.push(`${subpath} ${kind}: ${shown}, expected ${extension}`);
      found.push(`${kind} ${shown}`);
    }
    lines.push(`${subpath}: ${found.join(', ')}`);
  }
  if (lines.length === 0) wrong.push('no subpath has types');
  if (result.code !== 0 && wrong.length === 0) wrong.push(`attw exited with ${result.code}`);
  if (wrong.length > 0) {
    throw new CheckFailed(`${name}: the types are wrong`, `${wrong.join('\n')}\n${result.output}`);
  }
  return lines.join('\n      ');
}

// ---------------------------------------------------------------------------------------------
// A scratch project per driver

function writeJson(file, value) {
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** Copies fixtures/<name> into the project. */
function copyFixture(project, name) {
  copyFileSync(join(fixtures, name), join(project, name));
}

/** The TypeScript program of a driver: its header, then the common part. */
function typedProgram(id) {
  const header = readFileSync(join(fixtures, 'types', `${id}.ts`), 'utf8');
  const common = readFileSync(join(fixtures, 'types', 'common.ts'), 'utf8');
  return `${header}\n${common}`;
}

/** Checks that tsc's --listFiles shows only `extension` declarations of the @pup packages. */
function checkDeclarations(listed, extension) {
  const pup = listed
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.includes('/node_modules/@pup/'));
  if (pup.length === 0) throw new CheckFailed('tsc loaded no declaration file of @pup/*');
  const other = pup.filter((file) => !file.endsWith(extension));
  if (other.length > 0) {
    throw new CheckFailed(`tsc loaded @pup declarations other than ${extension}`, other.join('\n'));
  }
  return pup.length;
}

/**
 * better-sqlite3 downloads a prebuilt binary from its GitHub releases when installed, which this
 * network does not reach, and then compiles SQLite for a minute or more. Its installer
 * (prebuild-install) also takes a "local prebuild": the workspace has already built that very
 * version for this Node.js, so that binary is handed over as one, and the install takes seconds.
 * When the workspace has no binary, npm compiles as usual. Returns the install's environment.
 */
async function betterSqlite3Prebuild(work, version) {
  const installed = join(repo, 'packages', 'sqlite', 'node_modules', 'better-sqlite3');
  const binary = join(installed, 'build', 'Release', 'better_sqlite3.node');
  const manifest = join(installed, 'package.json');
  if (!existsSync(binary) || readJson(manifest).version !== version) return undefined;
  const folder = join(work, 'prebuilds');
  mkdirSync(folder, { recursive: true });
  const { platform, arch } = process;
  const name = `better-sqlite3-v${version}-node-v${process.versions.modules}-${platform}-${arch}.tar.gz`;
  await mustRun(
    'tar',
    ['-czf', join(folder, name), '-C', installed, 'build/Release/better_sqlite3.node'],
    {
      timeoutMs: LIMITS.tool,
    },
  );
  return { ...process.env, npm_config_better_sqlite3_local_prebuilds: folder };
}

async function runProject(project, work, tarballs, versions) {
  const group = project.id;
  const dir = join(work, `consumer-${project.id}`);
  mkdirSync(dir);
  const specs = [
    ...project.packages.map((name) => tarballs.get(name)),
    ...project.dependencies.map((name) => `${name}@${versions[name]}`),
  ];
  const isDriver = project.id !== 'migrate-gen';
  const later = isDriver
    ? [
        'ESM program',
        'CommonJS program',
        ...TYPE_CHECKS.map((typeCheck) => `types: ${typeCheck.name}`),
      ]
    : ['npx pup-migrate-gen --help', 'npx pup-migrate-gen --version', 'a file per adapter'];

  const installed = await check(group, `npm init -y, npm install ${project.title}`, async () => {
    await mustRun('npm', ['init', '-y'], { cwd: dir, timeoutMs: LIMITS.tool });
    const env = project.dependencies.includes('better-sqlite3')
      ? await betterSqlite3Prebuild(work, versions['better-sqlite3'])
      : undefined;
    await mustRun('npm', [...NPM_INSTALL, ...specs], { cwd: dir, timeoutMs: LIMITS.install, env });
    const names = specs.map((spec) => (spec.endsWith('.tgz') ? relative(work, spec) : spec));
    return names.join(' ');
  });
  if (!installed) return notRun(group, later);

  if (isDriver) await runDriverChecks(project, dir);
  else await runMigrateGenChecks(dir, tarballs);
}

async function runDriverChecks(project, dir) {
  const group = project.id;
  for (const extension of ['mjs', 'cjs']) copyFixture(dir, `${project.id}.${extension}`);
  copyFixture(dir, 'scenario.cjs');
  for (const [format, extension] of [
    ['esm', 'mjs'],
    ['cjs', 'cjs'],
  ]) {
    const name = format === 'esm' ? 'ESM program' : 'CommonJS program';
    await check(group, `${name} (${project.id}.${extension})`, async () => {
      const result = await mustRun(process.execPath, [`${project.id}.${extension}`], {
        cwd: dir,
        timeoutMs: LIMITS.program,
      });
      // A program whose pending work never settles would exit 0 half-way: demand its last line.
      if (!result.stdout.includes(`${project.id} ${format}: ok`)) {
        throw new CheckFailed('the program ended before its last check', result.output);
      }
      const steps = result.stdout.split('\n').filter((line) => line.startsWith('  ok')).length;
      return `${steps} checks passed`;
    });
  }

  const program = typedProgram(project.id);
  const tsc = join(dir, 'node_modules', 'typescript', 'bin', 'tsc');
  for (const typeCheck of TYPE_CHECKS) {
    writeFileSync(join(dir, typeCheck.file), program);
    const config = `tsconfig.${typeCheck.file.replace('.', '-')}.json`;
    writeJson(join(dir, config), {
      compilerOptions: {
        ...typeCheck.compilerOptions,
        target: 'es2022',
        lib: ['es2022'],
        types: ['node'],
        strict: true,
        skipLibCheck: false,
        noEmit: true,
      },
      files: [typeCheck.file],
    });
    await check(group, `types: ${typeCheck.name}, strict, no skipLibCheck`, async () => {
      const result = await exec(process.execPath, [tsc, '-p', config, '--listFiles'], {
        cwd: dir,
        timeoutMs: LIMITS.tsc,
      });
      if (result.code !== 0) {
        // --listFiles output is every absolute path; keep the diagnostics.
        const diagnostics = result.output
          .split('\n')
          .filter((line) => line.trim() !== '' && !line.startsWith('/'))
          .join('\n');
        const how = result.timedOut ? 'did not finish' : `exit code ${result.code}`;
        throw new CheckFailed(`tsc -p ${config}: ${how}`, diagnostics || result.output);
      }
      const count = checkDeclarations(result.stdout, typeCheck.declarations);
      return `no error; the @ts-expect-error lines are errors; ${count} @pup ${typeCheck.declarations} files`;
    });
  }
}

async function runMigrateGenChecks(dir, tarballs) {
  const group = 'migrate-gen';
  const npx = (args) =>
    mustRun('npx', ['--no', '--', 'pup-migrate-gen', ...args], {
      cwd: dir,
      timeoutMs: LIMITS.tool,
    });
  await check(group, 'npx pup-migrate-gen --help', async () => {
    const result = await npx(['--help']);
    if (!result.stdout.includes('Usage: pup-migrate-gen')) {
      throw new CheckFailed('--help printed no usage', result.output);
    }
  });
  await check(group, 'npx pup-migrate-gen --version', async () => {
    const result = await npx(['--version']);
    const version = (await tarballManifest(tarballs.get('@pup/migrate-gen'))).version;
    if (!result.stdout.includes(version)) {
      throw new CheckFailed(`--version did not print ${version}`, result.output);
    }
  });
  await check(
    group,
    'a file per adapter, byte for byte its schema SQL (ESM and CommonJS)',
    async () => {
      for (const extension of ['mjs', 'cjs']) copyFixture(dir, `migrate-gen.${extension}`);
      const adapters = [
        ['sqlite', 'mjs'],
        ['postgres', 'cjs'],
        ['mysql', 'mjs'],
      ];
      for (const [adapter, extension] of adapters) {
        const file = join(dir, 'migrations', `${adapter}.sql`);
        await npx(['--adapter', adapter, '--output', 'migrations', '--filename', `${adapter}.sql`]);
        await mustRun(process.execPath, [`migrate-gen.${extension}`, adapter, file], {
          cwd: dir,
          timeoutMs: LIMITS.program,
        });
        // The other module system checks the same file too.
        const other = extension === 'mjs' ? 'cjs' : 'mjs';
        await mustRun(process.execPath, [`migrate-gen.${other}`, adapter, file], {
          cwd: dir,
          timeoutMs: LIMITS.program,
        });
      }
      return 'sqlite, postgres, mysql';
    },
  );
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const started = Date.now();
  const work = mkdtempSync(join(tmpdir(), 'pup-packed-install-'));
  const cleanUp = () => {
    if (options.keep) console.log(`\nscratch folder kept in ${work}`);
    else rmSync(work, { recursive: true, force: true });
  };
  process.once('SIGINT', () => {
    for (const child of running) killGroup(child);
    cleanUp();
    process.exit(130);
  });
  try {
    if (!options.skipBuild) {
      await check('build', 'npx pnpm build', () =>
        mustRun('npx', [...PNPM, 'build'], { cwd: repo, timeoutMs: LIMITS.install }),
      );
    }
    const packages = publicPackages();
    let versions;
    await check(
      'setup',
      'the workspace versions of the drivers, typescript and @types/node',
      () => {
        versions = workspaceVersions();
        return Object.entries(versions)
          .map(([name, version]) => `${name}@${version}`)
          .join(' ');
      },
    );

    const tarballs = new Map();
    const destination = join(work, 'tarballs');
    const packed = await check('pack', `pnpm pack ${[...packages.keys()].join(' ')}`, async () => {
      const filters = [...packages.keys()].flatMap((name) => ['--filter', name]);
      await mustRun('npx', [...PNPM, '-r', ...filters, 'pack', '--pack-destination', destination], {
        cwd: repo,
        timeoutMs: LIMITS.pack,
      });
      for (const file of readdirSync(destination).filter((name) => name.endsWith('.tgz'))) {
        const manifest = await tarballManifest(join(destination, file));
        tarballs.set(manifest.name, join(destination, file));
      }
      const missing = [...packages.keys()].filter((name) => !tarballs.has(name));
      if (missing.length > 0) throw new CheckFailed(`no tarball of ${missing.join(', ')}`);
    });
    const checked = await Promise.all(
      [...tarballs].map(([name, tarball]) =>
        check('pack', `${name}: what the tarball holds`, () => checkTarball(name, tarball)),
      ),
    );

    if (packed && checked.every(Boolean) && versions) {
      const tasks = PROJECTS.filter((project) => options.only.has(project.id)).map((project) =>
        runProject(project, work, tarballs, versions),
      );
      if (options.only.has('types')) {
        tasks.push(
          (async () => {
            for (const name of packages.keys()) {
              await check('types', `attw ${name}: every exports subpath`, () =>
                checkTypes(name, tarballs.get(name)),
              );
            }
          })(),
        );
      }
      await Promise.all(tasks);
    } else {
      notRun('packed install', ['everything after packing']);
    }
  } finally {
    cleanUp();
  }

  const failed = results.filter((result) => !result.ok);
  console.log('\n==> packed install: summary');
  for (const result of results) {
    const mark = result.ok ? 'ok  ' : 'FAIL';
    console.log(`${mark}  ${result.group}: ${result.name}`);
  }
  const took = seconds(Date.now() - started);
  if (failed.length === 0) {
    console.log(`packed install: all ${results.length} checks ok, in ${took}`);
  } else {
    console.log(`packed install: ${failed.length} of ${results.length} checks FAILED, in ${took}`);
    process.exitCode = 1;
  }
}

await main();
