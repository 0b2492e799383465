import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, hidingPreload } from '../../core/test/support/dist.js';
import { admin, postgresUrl, uniqueSchema } from './support.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const requireHere = createRequire(join(root, 'package.json'));

/** A program using one driver, loaded through the built package (ESM and CommonJS). */
function program(driver: 'pg' | 'postgres'): string {
  const driverPath = requireHere.resolve(driver);
  const open =
    driver === 'pg'
      ? `const pg = require(${JSON.stringify(driverPath)});
         const pool = new pg.Pool({ connectionString: url, max: 2 });
         const make = (m) => m.createPgEventStore(pool, { tables });
         const end = () => pool.end();`
      : `const postgres = require(${JSON.stringify(driverPath)});
         const sql = postgres(url, { max: 2, onnotice: () => {} });
         const make = (m) => m.createPostgresJsEventStore(sql, { tables });
         const end = () => sql.end({ timeout: 5 });`;
  return `
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const url = process.env.PUP_DIST_URL;
const schema = process.env.PUP_DIST_SCHEMA;
const tables = { events: schema + '.events', aggregateHeads: schema + '.heads', checkpoints: schema + '.cps' };
let hiddenLoad = 'loaded';
try { require(${JSON.stringify(driver === 'pg' ? 'postgres' : 'pg')}); } catch { hiddenLoad = 'hidden'; }
${open}
const esm = await import(${JSON.stringify(join(dist, 'index.js'))});
const cjs = require(${JSON.stringify(join(dist, 'index.cjs'))});
const { ExpectedVersion } = cjs.__core ?? require(${JSON.stringify(requireHere.resolve('@pup/core'))});
const results = [];
for (const m of [esm, cjs]) {
  const store = make(m);
  await store.migrate();
  await store.transaction((tx) => store.append(tx, ExpectedVersion.any(), [
    { boundedContext: 'dist', aggregateType: 'T', aggregateId: 'a', eventType: 'E', payload: { ok: true } },
  ]));
  // Wait until the append is readable: any transaction running elsewhere on the server holds
  // readers back for as long as it runs.
  const expected = results.length + 1;
  let read = 0;
  for (const deadline = Date.now() + 20000; read < expected && Date.now() < deadline; ) {
    read = (await store.transaction((tx) => store.readEvents(tx, { limit: 10 }))).length;
    if (read < expected) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  results.push(read);
  await store.close();
}
await end();
console.log(JSON.stringify({ hiddenLoad, results }));
`;
}

describe('the built package', () => {
  let dir: string;
  beforeAll(() => {
    ensureBuilt(root);
    dir = mkdtempSync(join(tmpdir(), 'pup-dist-'));
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('has no runtime import of pg or postgres', () => {
    for (const file of ['index.js', 'index.cjs']) {
      const code = readFileSync(join(dist, file), 'utf8');
      expect(code).not.toMatch(/(from|import|require)\s*\(?\s*["'](pg|postgres)(\/[^"']*)?["']/);
    }
  });

  for (const driver of ['pg', 'postgres'] as const) {
    it(`loads and works with only ${driver} installed (ESM and CommonJS)`, async () => {
      const other = driver === 'pg' ? 'postgres' : 'pg';
      const schema = uniqueSchema();
      await admin().query(`CREATE SCHEMA ${schema}`);
      try {
        writeFileSync(join(dir, `hide-${other}.mjs`), hidingPreload(other));
        writeFileSync(join(dir, `use-${driver}.mjs`), program(driver));
        const output = execFileSync(
          process.execPath,
          ['--import', join(dir, `hide-${other}.mjs`), join(dir, `use-${driver}.mjs`)],
          {
            env: { ...process.env, PUP_DIST_URL: postgresUrl(), PUP_DIST_SCHEMA: schema },
            encoding: 'utf8',
            timeout: 60_000,
          },
        );
        expect(JSON.parse(output.trim().split('\n').pop()!)).toEqual({
          hiddenLoad: 'hidden',
          results: [1, 2],
        });
      } finally {
        await admin().query(`DROP SCHEMA ${schema} CASCADE`);
      }
    });
  }
});
