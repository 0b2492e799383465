import { createRequire } from 'node:module';

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

/** The installed version of a package, such as `8.23.1`, or `?` when unknown. */
export function packageVersion(name: string): string {
  try {
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return '?';
  }
}
