import { randomUUID } from 'node:crypto';
import { ExpectedVersion } from '@pup/core';
import mysql from 'mysql2/promise';
import { createMysqlEventStore } from '../src/index.js';

const url = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
const admin = await mysql.createConnection({ uri: url });
await admin.query('DROP DATABASE IF EXISTS pup_prof');
await admin.query('CREATE DATABASE pup_prof');
const pool = mysql.createPool({ uri: url, connectionLimit: 10 });
const store = createMysqlEventStore(pool, {
  tables: {
    events: 'pup_prof.events',
    aggregateHeads: 'pup_prof.heads',
    checkpoints: 'pup_prof.cps',
  },
});
await store.migrate();
const ev = () => ({
  boundedContext: 'b',
  aggregateType: 'T',
  aggregateId: randomUUID(),
  eventType: 'E',
  payload: { n: 1 },
});
for (const writers of [1, 4, 8]) {
  const until = Date.now() + 2000;
  let n = 0;
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (Date.now() < until) {
        const e = ev();
        await store.transaction((tx) => store.append(tx, ExpectedVersion.any(), [e]));
        n++;
      }
    }),
  );
  console.log(`${writers} writers: ${(n / 2).toFixed(0)} appends/s`);
}
await store.close();
await pool.end();
await admin.query('DROP DATABASE pup_prof');
await admin.end();
