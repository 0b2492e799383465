// Proves the versioning policy (.changeset/README.md): a core-only minor release never moves an
// adapter's version, and every adapter's published peer range on @pup/core admits the new core.
// It works on a scratch copy of the repository's package manifests and changeset config: the
// pending changesets are replaced by one core-only minor changeset, then `changeset version` runs.
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(join(root, 'package.json'));
const semver = require(require.resolve('semver', { paths: [require.resolve('@changesets/cli')] }));
const changesetBin = join(root, 'node_modules', '.bin', 'changeset');

const scratch = mkdtempSync(join(tmpdir(), 'pup-versioning-'));
const failures = [];
try {
  // The manifests and workspace layout are all `changeset version` needs.
  for (const file of ['package.json', 'pnpm-workspace.yaml']) {
    cpSync(join(root, file), join(scratch, file));
  }
  mkdirSync(join(scratch, '.changeset'));
  cpSync(join(root, '.changeset', 'config.json'), join(scratch, '.changeset', 'config.json'));
  const packages = readdirSync(join(root, 'packages'));
  const before = {};
  for (const dir of packages) {
    mkdirSync(join(scratch, 'packages', dir), { recursive: true });
    const manifest = JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8'));
    before[manifest.name] = manifest;
    writeFileSync(
      join(scratch, 'packages', dir, 'package.json'),
      JSON.stringify(manifest, null, 2),
    );
  }
  writeFileSync(
    join(scratch, '.changeset', 'core-only-minor.md'),
    '---\n"@pup/core": minor\n---\n\nA core-only minor release (simulated by scripts/check-versioning.mjs).\n',
  );
  execFileSync('git', ['init', '-q'], { cwd: scratch });
  execFileSync(changesetBin, ['version'], { cwd: scratch, stdio: 'pipe' });

  const after = {};
  for (const dir of packages) {
    const manifest = JSON.parse(
      readFileSync(join(scratch, 'packages', dir, 'package.json'), 'utf8'),
    );
    after[manifest.name] = manifest;
  }
  const core = after['@pup/core'].version;
  if (core !== semver.inc(before['@pup/core'].version, 'minor')) {
    failures.push(`@pup/core went to ${core}, expected a minor bump`);
  }
  for (const [name, manifest] of Object.entries(after)) {
    const range = manifest.peerDependencies?.['@pup/core'];
    if (range === undefined) continue;
    const old = before[name].version;
    if (manifest.version !== old) {
      failures.push(
        `${name} moved from ${old} to ${manifest.version} on a core-only minor release`,
      );
    }
    if (range.startsWith('workspace:')) {
      failures.push(`${name}: peer range ${range} is rewritten at publish; use an explicit range`);
    } else if (!semver.satisfies(core, range)) {
      failures.push(`${name}: peer range ${range} does not admit the new @pup/core ${core}`);
    } else {
      console.log(`ok  ${name} stays ${old}; its peer range ${range} admits @pup/core ${core}`);
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
if (failures.length > 0) {
  for (const failure of failures) console.error(`error: ${failure}`);
  process.exit(1);
}
