import { runProjectionCrashScenario } from '@pup/core/conformance';
import { describe, expect, it } from 'vitest';
import { crashWorkerCommand } from '../../core/test/support/crash-worker-command.js';
import { createSqliteEventStore } from '../src/index.js';
import { openDatabase } from './harness.js';

describe('sqlite (file): projection crash recovery', () => {
  it('a worker killed with SIGKILL mid-batch restarts and applies every event exactly once', async () => {
    const { db, file, dispose } = openDatabase('file');
    const { worker, dispose: disposeWorker } = crashWorkerCommand(
      new URL('./crash-worker.ts', import.meta.url),
      {
        PUP_CRASH_SQLITE_FILE: file!,
      },
    );
    const store = createSqliteEventStore(db);
    try {
      await store.migrate();
      const report = await runProjectionCrashScenario({ store, worker, events: 300 });
      expect(report.events).toBe(300);
      expect(report.crashes.map((c) => c.when)).toEqual(['paused mid-batch', 'running']);
      const [paused] = report.crashes;
      expect(paused!.handledBeforeKill).toBeGreaterThan(paused!.committedAfterKill);
      // The read model once more, through raw SQL: one row per event, no duplicate marker.
      const count = (pattern: string) =>
        db
          .prepare('SELECT count(*) FROM projection_checkpoints WHERE projection_name LIKE ?')
          .pluck()
          .get(pattern);
      expect(count(`${report.projectionName}:e:%`)).toBe(300);
      expect(count(`${report.projectionName}:d:%`)).toBe(0);
    } finally {
      await store.close();
      disposeWorker();
      dispose();
    }
  }, 120_000);
});
