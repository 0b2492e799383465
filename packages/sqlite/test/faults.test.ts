// Fault tests on a SQLite file: writer processes killed with SIGKILL at random while they append
// (the file's locks and journal are left as a dead process leaves them).
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { crashWorkerCommand } from '../../core/test/support/crash-worker-command.js';
import { type RawEventRow, readWholeLog } from '../../core/test/support/faults.js';
import { runWriterKillTest } from '../../core/test/support/writer-kill.js';
import { createSqliteEventStore } from '../src/index.js';
import { tempDir } from './harness.js';

function rawLog(db: Database.Database): { rows: RawEventRow[]; heads: Map<string, number> } {
  const rows = db
    .prepare(
      `SELECT bounded_context || '/' || aggregate_type || '/' || aggregate_id AS stream,
              aggregate_version, event_id, global_position FROM events`,
    )
    .all() as {
    stream: string;
    aggregate_version: number;
    event_id: string;
    global_position: number;
  }[];
  const heads = db
    .prepare(
      `SELECT bounded_context || '/' || aggregate_type || '/' || aggregate_id AS stream,
              aggregate_version FROM aggregate_heads`,
    )
    .all() as { stream: string; aggregate_version: number }[];
  return {
    rows: rows.map((r) => ({
      stream: r.stream,
      aggregateVersion: Number(r.aggregate_version),
      eventId: r.event_id,
      globalPosition: Number(r.global_position),
    })),
    heads: new Map(heads.map((h) => [h.stream, Number(h.aggregate_version)])),
  };
}

describe('faults on SQLite (file)', () => {
  it('writer processes killed with SIGKILL at random: every acknowledged append once, contiguous versions, a projection applied exactly once', async () => {
    const { dir, remove } = tempDir();
    const file = join(dir, 'events.db');
    const db = new Database(file);
    const store = createSqliteEventStore(db);
    const { worker, dispose } = crashWorkerCommand(new URL('./writer-worker.ts', import.meta.url), {
      PUP_WRITER_SQLITE_FILE: file,
    });
    try {
      await store.migrate();
      // A projection runs in this process while the writers append and die; afterwards the
      // killed writers have left the file usable: this process reads and projects on.
      await runWriterKillTest(store, worker, {
        label: 'sqlite',
        rawLog: async () => rawLog(db),
        // No read horizon on SQLite: every committed row reads back at once.
        readLog: async (count) => {
          const log = await readWholeLog(store);
          expect(log).toHaveLength(count);
          return log;
        },
      });
    } finally {
      await store.close();
      db.close();
      dispose();
      remove();
    }
  }, 120_000);
});
