// Fault tests on a SQLite file: writer processes killed with SIGKILL at random while they append
// (the file's locks and journal are left as a dead process leaves them).
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { crashWorkerCommand } from '../../core/test/support/crash-worker-command.js';
import {
  assertLogInvariants,
  ProjectionUnderFaults,
  type RawEventRow,
  readWholeLog,
  streamOrderInversions,
} from '../../core/test/support/faults.js';
import { runWriterKillScenario } from '../../core/test/support/writer-kill.js';
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
    const projection = new ProjectionUnderFaults(store);
    try {
      await store.migrate();
      // A projection runs in this process while the writers append and die.
      await projection.start();
      const report = await runWriterKillScenario({ worker, rounds: 3, writersPerRound: 2 });
      const { rows, heads } = rawLog(db);
      console.log(
        `sqlite: ${report.kills} writers killed; ${report.ledger.acknowledged.size} events acknowledged, ${rows.length} in the log; stream versions out of log order: ${streamOrderInversions(rows)}`,
      );
      expect(report.kills).toBe(6);
      assertLogInvariants(rows, report.ledger, heads);
      // The killed writers left the file usable: this process appends and reads on.
      const log = await readWholeLog(store);
      expect(log).toHaveLength(rows.length);
      await projection.catchUp(log[log.length - 1]!.checkpoint, () =>
        store.transaction((tx) => store.getCheckpoint(tx, projection.name)),
      );
      await projection.assertExactlyOnce(log);
      expect(projection.failures).toEqual([]);
    } finally {
      await projection.stop();
      await store.close();
      db.close();
      dispose();
      remove();
    }
  }, 120_000);
});
