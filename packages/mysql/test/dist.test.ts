import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, hidingPreload } from '../../core/test/support/dist.js';
import { adminQuery, dropDatabase, mysqlUrl, uniqueDatabase } from './support.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const requireHere = createRequire(join(root, 'package.json'));

const WITHOUT_DRIVER = `
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
let hidden = 'loaded';
try { require('mysql2/promise'); } catch { hidden = 'hidden'; }
const esm = await import(${JSON.stringify(join(dist, 'index.js'))});
const cjs = require(${JSON.stringify(join(dist, 'index.cjs'))});
console.log(JSON.stringify({
  hidden,
  esm: typeof esm.createMysqlEventStore,
  cjs: typeof cjs.createMysqlEventStore,
  sql: esm.mysqlSchemaSql().includes('CREATE TABLE IF NOT EXISTS'),
}));
`;

const WITH_DRIVER = `
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const mysql = require(${JSON.stringify(requireHere.resolve('mysql2/promise'))});
const { ExpectedVersion } = require(${JSON.stringify(requireHere.resolve('@pup/core'))});
const database = process.env.PUP_DIST_DATABASE;
const tables = { events: database + '.events', aggregateHeads: database + '.heads', checkpoints: database + '.cps' };
const pool = mysql.createPool({ uri: process.env.PUP_DIST_URL, connectionLimit: 2 });
const results = [];
for (const m of [await import(${JSON.stringify(join(dist, 'index.js'))}), require(${JSON.stringify(join(dist, 'index.cjs'))})]) {
  const store = m.createMysqlEventStore(pool, { tables });
  await store.migrate();
  await store.transaction((tx) => store.append(tx, ExpectedVersion.any(), [
    { boundedContext: 'dist', aggregateType: 'T', aggregateId: 'a', eventType: 'E', payload: { ok: true } },
  ]));
  results.push((await store.transaction((tx) => store.readEvents(tx, { limit: 10 }))).length);
  await store.close();
}
await pool.end();
console.log(JSON.stringify({ results }));
`;

describe('the built package', () => {
  let dir: string;
  beforeAll(() => {
    ensureBuilt(root);
    dir = mkdtempSync(join(tmpdir(), 'pup-mysql-dist-'));
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('has no runtime import of mysql2', () => {
    for (const file of ['index.js', 'index.cjs']) {
      const code = readFileSync(join(dist, file), 'utf8');
      expect(code).not.toMatch(/(from|import|require)\s*\(?\s*["']mysql2(\/[^"']*)?["']/);
    }
  });

  it('loads (ESM and CommonJS) without mysql2 installed', () => {
    writeFileSync(join(dir, 'hide.mjs'), hidingPreload('mysql2'));
    writeFileSync(join(dir, 'without.mjs'), WITHOUT_DRIVER);
    const output = execFileSync(
      process.execPath,
      ['--import', join(dir, 'hide.mjs'), join(dir, 'without.mjs')],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(JSON.parse(output.trim().split('\n').pop()!)).toEqual({
      hidden: 'hidden',
      esm: 'function',
      cjs: 'function',
      sql: true,
    });
  });

  it('works with mysql2 (ESM and CommonJS builds on one database)', async () => {
    const database = uniqueDatabase();
    await adminQuery(`CREATE DATABASE ${database}`);
    try {
      writeFileSync(join(dir, 'with.mjs'), WITH_DRIVER);
      const output = execFileSync(process.execPath, [join(dir, 'with.mjs')], {
        env: { ...process.env, PUP_DIST_URL: mysqlUrl(), PUP_DIST_DATABASE: database },
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(JSON.parse(output.trim().split('\n').pop()!)).toEqual({ results: [1, 2] });
    } finally {
      await dropDatabase(database);
    }
  });
});
