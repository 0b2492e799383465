#!/usr/bin/env node
// Runs the conformance suite the way a third party does: packs @pup/core and @pup/sqlite into
// tarballs (as they are published), installs them with npm into a scratch project together with
// better-sqlite3 from the registry, copies this folder's test files there and runs them with
// `node --test`. Then it checks that a wrong harness (a queueing store that does not declare
// `capabilities.concurrentTransactions: false`) fails in bounded time, naming the capability,
// with no test cancelled. Exits non-zero when anything fails.
//
//   node packages/core/conformance-node-test/run.mjs [--skip-build] [--keep]
//
// --skip-build  pack the dist/ folders as they are (CI builds first); default: build both first
// --keep        keep the scratch project (its path is printed)
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../../..');
const packages = { core: resolve(repo, 'packages/core'), sqlite: resolve(repo, 'packages/sqlite') };
const PNPM = ['-y', 'pnpm@10.34.8'];
const BETTER_SQLITE3 = 'better-sqlite3@12.6.2';
/** The test files of the passing run, and the wrong harness checked afterwards. */
const TEST_FILES = ['in-memory.test.mjs', 'sqlite.test.mjs'];
const SUPPORT_FILES = ['crash-worker.mjs'];
const WRONG_HARNESS = 'fixtures/claims-concurrent-transactions.mjs';
/** The wrong harness's run must end well within this (its tests have a 6 s limit). */
const WRONG_HARNESS_LIMIT_MS = 120_000;

const args = new Set(process.argv.slice(2));
for (const arg of args) {
  if (arg !== '--skip-build' && arg !== '--keep') {
    console.error(`unknown argument ${arg}\nusage: run.mjs [--skip-build] [--keep]`);
    process.exit(2);
  }
}

function log(message) {
  console.log(`\n==> ${message}`);
}

/** A step that failed; the scratch project is still removed. */
class StepFailed extends Error {}

/** Runs a command with inherited output; throws {@link StepFailed} when it fails. */
function run(command, commandArgs, cwd) {
  const result = spawnSync(command, commandArgs, { cwd, stdio: 'inherit' });
  if (result.status !== 0) {
    throw new StepFailed(`${command} ${commandArgs.join(' ')} failed (${describeExit(result)})`);
  }
}

function describeExit(result) {
  if (result.error) return result.error.message;
  return result.signal ? `signal ${result.signal}` : `exit code ${result.status}`;
}

const work = mkdtempSync(join(tmpdir(), 'pup-conformance-node-test-'));
let failed = false;
try {
  if (!args.has('--skip-build')) {
    log('build @pup/core and @pup/sqlite');
    run('npx', [...PNPM, '--filter', '@pup/core', '--filter', '@pup/sqlite', 'run', 'build'], repo);
  }

  // pnpm pack, like the release (changeset publish through pnpm), turns the adapter's
  // `workspace:^` peer range on core into a real one; npm pack would leave it unusable.
  log('pack the packages as they are published');
  const tarballs = join(work, 'tarballs');
  mkdirSync(tarballs);
  for (const dir of Object.values(packages)) {
    run('npx', [...PNPM, 'pack', '--pack-destination', tarballs], dir);
  }
  const packed = readdirSync(tarballs)
    .filter((name) => name.endsWith('.tgz'))
    .map((name) => join(tarballs, name));
  if (packed.length !== 2) {
    throw new StepFailed(`expected 2 tarballs in ${tarballs}, found ${packed.length}`);
  }

  log(`scratch project in ${work}/project: npm install of the tarballs and ${BETTER_SQLITE3}`);
  const project = join(work, 'project');
  mkdirSync(join(project, 'fixtures'), { recursive: true });
  writeFileSync(
    join(project, 'package.json'),
    `${JSON.stringify({ name: 'pup-conformance-consumer', private: true, type: 'module' }, null, 2)}\n`,
  );
  for (const file of [...TEST_FILES, ...SUPPORT_FILES, WRONG_HARNESS]) {
    copyFileSync(join(here, file), join(project, file));
  }
  run('npm', ['install', '--no-audit', '--no-fund', ...packed, BETTER_SQLITE3], project);

  log(`node --test ${TEST_FILES.join(' ')}`);
  const suite = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...TEST_FILES], {
    cwd: project,
    stdio: 'inherit',
  });
  if (suite.status !== 0) {
    console.error(`error: the conformance run failed (${describeExit(suite)})`);
    failed = true;
  }

  log(`a wrong harness fails in bounded time, naming the capability (${WRONG_HARNESS})`);
  const started = Date.now();
  const wrong = spawnSync(process.execPath, ['--test', '--test-reporter=tap', WRONG_HARNESS], {
    cwd: project,
    encoding: 'utf8',
    timeout: WRONG_HARNESS_LIMIT_MS,
    maxBuffer: 64 * 1024 * 1024,
  });
  const took = Date.now() - started;
  const output = `${wrong.stdout ?? ''}${wrong.stderr ?? ''}`;
  const count = (label) => Number(new RegExp(`^# ${label} (\\d+)$`, 'm').exec(output)?.[1] ?? NaN);
  const problems = [];
  if (wrong.error || wrong.signal)
    problems.push(`the run did not end by itself (${describeExit(wrong)})`);
  if (wrong.status === 0) problems.push('the run passed, but it must fail');
  if (!(count('fail') >= 1)) problems.push(`failed tests: ${count('fail')}, expected at least 1`);
  if (count('cancelled') !== 0) problems.push(`cancelled tests: ${count('cancelled')}, expected 0`);
  if (!(count('pass') >= 100)) problems.push(`passed tests: ${count('pass')}, expected the rest`);
  if (!output.includes('set capabilities.concurrentTransactions = false')) {
    problems.push('no failure names capabilities.concurrentTransactions');
  }
  if (problems.length > 0) {
    console.error(output);
    for (const problem of problems) console.error(`error: ${problem}`);
    failed = true;
  } else {
    console.log(
      `ok: ${count('fail')} failed naming the capability, ${count('pass')} passed, none cancelled, in ${took} ms`,
    );
  }
} catch (error) {
  if (!(error instanceof StepFailed)) throw error;
  console.error(`error: ${error.message}`);
  failed = true;
} finally {
  if (args.has('--keep')) console.log(`\nscratch project kept in ${work}`);
  else rmSync(work, { recursive: true, force: true });
}

if (failed) {
  process.exitCode = 1;
} else {
  log('conformance under node:test: ok');
}
