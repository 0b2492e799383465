import { readFileSync } from 'node:fs';
import { defineConfig } from 'tsup';

const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };

export default defineConfig({
  // `index` is the programmatic API; `cli` is the `pup-migrate-gen` command (its shebang is kept).
  entry: { index: 'src/index.ts', cli: 'src/cli.ts' },
  format: ['esm', 'cjs'],
  dts: { entry: { index: 'src/index.ts' } },
  define: { __PUP_MIGRATE_GEN_VERSION__: JSON.stringify(version) },
  clean: true,
  // No source maps in the published build: the tarball ships dist/ only, and a map would point at
  // src/ files it does not contain.
  sourcemap: false,
  target: 'node20',
  tsconfig: 'tsconfig.build.json',
});
