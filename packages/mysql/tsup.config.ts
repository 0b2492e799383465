import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  // No source maps in the published build: the tarball ships dist/ only, and a map would point at
  // src/ files it does not contain.
  sourcemap: false,
  target: 'node20',
  tsconfig: 'tsconfig.build.json',
});
