import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/**
 * Imports an optional workspace package by name; returns the reason instead when it is missing
 * or not built yet. The specifier is a variable so the benchmark typechecks before the package
 * exists.
 */
export async function importOptional<T>(
  specifier: string,
): Promise<{ module: T; reason: null } | { module: null; reason: string }> {
  try {
    return { module: (await import(specifier)) as T, reason: null };
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    return { module: null, reason: `${specifier} is not available (${message})` };
  }
}

/**
 * The installed version of a package, such as `8.23.1`, or `?` when unknown. Found from its
 * entry point upwards, since not every package exports its `package.json`.
 */
export function packageVersion(name: string): string {
  try {
    let dir = dirname(require.resolve(name));
    for (;;) {
      const file = join(dir, 'package.json');
      if (existsSync(file)) {
        const json = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
        if (json.name === name && json.version !== undefined) return json.version;
      }
      const parent = dirname(dir);
      if (parent === dir) return '?';
      dir = parent;
    }
  } catch {
    return '?';
  }
}
