// docs/operations.md, "Migrations": the migration file from code. Writes into a scratch folder.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { postgresSchemaSql } from '@pup/postgres';

const folder = mkdtempSync(join(tmpdir(), 'pup-docs-'));
process.chdir(folder);

// #region generate
import { generateMigration, writeMigration } from '@pup/migrate-gen';

// The SQL and the file name, nothing written: the same bytes as the command.
const { fileName, sql } = generateMigration({
  adapter: 'postgres',
  tables: { events: 'app.events' }, // the same names as the store's `tables` option
});

// What `pup-migrate-gen --adapter postgres --output db/migrations` does.
const written = await writeMigration({ adapter: 'postgres', output: 'db/migrations' });
console.log(written.path); // db/migrations/<UTC timestamp>_init_event_sourcing.sql
// #endregion generate

if (!fileName.endsWith('_init_event_sourcing.sql')) throw new Error(`file name ${fileName}`);
if (!sql.includes('"app"."events"')) throw new Error('the SQL does not use the table name given');
if (readFileSync(written.path, 'utf8') !== postgresSchemaSql()) {
  throw new Error('the file is not what postgresSchemaSql() returns');
}
process.chdir(tmpdir());
rmSync(folder, { recursive: true });
