import mysql from 'mysql2/promise';

const url = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
const pool = mysql.createPool({ uri: url, connectionLimit: 10 });
const conn = await pool.getConnection();
const t: Record<string, number> = {};
const time = async (k: string, f: () => Promise<unknown>) => {
  const s = performance.now();
  await f();
  t[k] = (t[k] ?? 0) + performance.now() - s;
};
await conn.query('DROP TABLE IF EXISTS pup_x');
await conn.query('CREATE TABLE pup_x (a BIGINT PRIMARY KEY) ENGINE=InnoDB');
for (let i = 0; i < 200; i++) {
  await time('set', () => conn.query('SET TRANSACTION ISOLATION LEVEL READ COMMITTED'));
  await time('start', () => conn.query('START TRANSACTION'));
  await time('insert', () => conn.query('INSERT INTO pup_x VALUES (?)', [i]));
  await time('select1', () => conn.query('SELECT 1'));
  await time('commit', () => conn.query('COMMIT'));
  await time('autocommit insert', () => conn.query('INSERT INTO pup_x VALUES (?)', [100000 + i]));
}
for (const [k, v] of Object.entries(t)) console.log(k, (v / 200).toFixed(3), 'ms');
await conn.query('DROP TABLE pup_x');
conn.release();
await pool.end();
