// Repository test plumbing shared by the tests that load packages as built (not published).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

/**
 * Builds the package at `packageRoot` with its own tsup when one of `builtFiles` (in `dist`) is
 * missing or older than a file of `src` or `extraSources` (turbo builds only the dependencies of a
 * package before its tests).
 */
export function ensureBuilt(
  packageRoot: string,
  builtFiles: readonly string[] = ['index.js', 'index.cjs'],
  extraSources: readonly string[] = [],
): void {
  const sources = [
    ...readdirSync(join(packageRoot, 'src')).map((file) => join(packageRoot, 'src', file)),
    ...extraSources.map((file) => join(packageRoot, file)),
  ];
  const newestSource = Math.max(...sources.map((file) => statSync(file).mtimeMs));
  const built = builtFiles.map((file) => join(packageRoot, 'dist', file));
  if (built.every((file) => existsSync(file) && statSync(file).mtimeMs >= newestSource)) return;
  const tsup = createRequire(join(packageRoot, 'package.json')).resolve('tsup/dist/cli-default.js');
  try {
    execFileSync(process.execPath, [tsup], { cwd: packageRoot, encoding: 'utf8', stdio: 'pipe' });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`Building ${packageRoot} failed:\n${stdout ?? ''}${stderr ?? ''}`);
  }
}

/**
 * Source of a `--import` preload that makes the package `hidden` (and its subpaths) impossible to
 * load, from CommonJS (`require`) and from ESM (`import`), as if it were not installed.
 */
export function hidingPreload(hidden: string): string {
  return `
import Module, { register } from 'node:module';
const hidden = ${JSON.stringify(hidden)};
const isHidden = (s) => s === hidden || s.startsWith(hidden + '/');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (isHidden(request)) {
    const error = new Error("Cannot find module '" + request + "' (hidden by the test)");
    error.code = 'MODULE_NOT_FOUND';
    throw error;
  }
  return resolve.call(this, request, ...rest);
};
register('data:text/javascript,' + encodeURIComponent(\`
  export async function resolve(specifier, context, next) {
    if (specifier === \${JSON.stringify(hidden)} || specifier.startsWith(\${JSON.stringify(hidden + '/')})) {
      const error = new Error("Cannot find package '" + specifier + "' (hidden by the test)");
      error.code = 'ERR_MODULE_NOT_FOUND';
      throw error;
    }
    return next(specifier, context);
  }\`));
`;
}
