import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** This package's folder. */
export const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

/** `require` resolving from this package, as its own code does. */
export const requireHere = createRequire(join(packageRoot, 'package.json'));

/** The built command. */
export const cliPath = join(packageRoot, 'dist', 'cli.js');

/** Folders under packages/ that the published command needs (itself included). */
export const workspacePackages = ['core', 'postgres', 'mysql', 'sqlite', 'migrate-gen'];
