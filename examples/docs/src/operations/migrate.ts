// docs/operations.md, "Schema versions": migrate at start-up and stop on a schema newer than this
// build. Runs on SQLite in memory; the newer schema is simulated by raising the recorded version.
import { type EventStore, SchemaVersionError } from '@pup/core';
import { createSqliteEventStore } from '@pup/sqlite';
import Database from 'better-sqlite3';

// #region startup
/** Run before the service takes traffic. */
async function prepareEventStore(store: EventStore<any>): Promise<void> {
  try {
    await store.migrate(); // creates or upgrades the schema; does nothing when it is current
  } catch (error) {
    if (error instanceof SchemaVersionError) {
      // A newer release of the adapter has upgraded this database: this build is too old for it.
      console.error(
        `${error.database} event store schema is at version ${error.found}; ` +
          `this build knows version ${error.supported}: deploy the newer build`,
      );
    }
    throw error; // do not start with a schema you cannot vouch for
  }
}
// #endregion startup

const db = new Database(':memory:');
const store = createSqliteEventStore(db);
await prepareEventStore(store);
await prepareEventStore(store); // a second run changes nothing

// #region version
const [row] = db.prepare("SELECT value FROM events_meta WHERE name = 'schema_version'").all() as {
  value: number;
}[];
console.log(`schema version ${row?.value}`);
// #endregion version

db.prepare("UPDATE events_meta SET value = value + 1 WHERE name = 'schema_version'").run();
let refused = false;
try {
  await prepareEventStore(store);
} catch (error) {
  refused = error instanceof SchemaVersionError && error.found === (row?.value ?? 0) + 1;
}
if (!refused) throw new Error('migrate() did not refuse a newer schema');
await store.close();
db.close();
