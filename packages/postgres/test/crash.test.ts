import { runProjectionCrashScenario } from '@pup/core/conformance';
import { describe, expect, it } from 'vitest';
import { crashWorkerCommand } from '../../core/test/support/crash-worker-command.js';
import { pgDriver, postgresUrl } from './support.js';

const driver = pgDriver();

describe('postgres (pg): projection crash recovery', () => {
  it('a worker killed with SIGKILL mid-batch restarts and applies every event exactly once', async () => {
    const subject = await driver.createStore();
    const { worker, dispose } = crashWorkerCommand(new URL('./crash-worker.ts', import.meta.url), {
      PUP_CRASH_PG_URL: postgresUrl(),
      PUP_CRASH_PG_SCHEMA: subject.schema,
    });
    try {
      const report = await runProjectionCrashScenario({
        store: subject.store,
        worker,
        events: 300,
      });
      expect(report.events).toBe(300);
      expect(report.crashes.map((c) => c.when)).toEqual(['paused mid-batch', 'running']);
      const [paused] = report.crashes;
      expect(paused!.handledBeforeKill).toBeGreaterThan(paused!.committedAfterKill);
      // The read model once more, through raw SQL: one row per event, no duplicate marker.
      const rows = await subject.admin(
        `SELECT count(*) FILTER (WHERE projection_name LIKE $1)::int AS once,
                count(*) FILTER (WHERE projection_name LIKE $2)::int AS twice
           FROM ${subject.schema}.projection_checkpoints`,
        [`${report.projectionName}:e:%`, `${report.projectionName}:d:%`],
      );
      expect(rows[0]).toEqual({ once: 300, twice: 0 });
    } finally {
      dispose();
      await subject.cleanup();
    }
  }, 180_000);
});
