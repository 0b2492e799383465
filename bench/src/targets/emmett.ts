import type { NewEvent, StreamRef } from '@pup/core';
import pg from 'pg';
import { eventsFor, preloadedStream } from '../fixtures.js';
import { packageVersion } from './load.js';
import type { CatchUpOptions, PeerTarget, SideOps, TargetConfig } from './types.js';

type EmmettPostgres = typeof import('@event-driven-io/emmett-postgresql');
type EmmettCore = typeof import('@event-driven-io/emmett');
type EmmettStore = ReturnType<EmmettPostgres['getPostgreSQLEventStore']>;

/** The workloads Emmett takes part in (issue 13's list). */
const EMMETT_WORKLOADS = ['append-1-stream', 'append-100', 'read-stream-100', 'catch-up-peer'];

/**
 * Pause of Emmett's consumer between two full batches. Its default is 50 ms, which alone caps a
 * catch-up at 2,000 events/s in batches of 100; 1 ms leaves it the time of its own work.
 */
const PULLING_FREQUENCY_MS = 1;

/** Longest catch-up before the consumer is stopped (the workload then reports the shortfall). */
const CATCH_UP_TIMEOUT_MS = 10 * 60_000;

/**
 * Streams preloaded at once through Emmett's own append: one. Emmett's consumer reads in
 * (transaction id, position) order but resumes after the last position it saw, so events that
 * concurrent appends committed with a lower position and a higher transaction id are skipped
 * (see BENCHMARKS.md); a sequential preload keeps both orders the same.
 */
const PRELOAD_CONCURRENCY = 1;

/** Emmett's stream name of a pup stream ref: Emmett takes the stream type from the first part. */
function streamName(stream: StreamRef): string {
  return `${stream.aggregateType}-${stream.aggregateId}`;
}

/** A pup `NewEvent` as an Emmett event: type, data, metadata (Emmett adds its own ids). */
function emmettEvent(event: NewEvent) {
  return {
    type: event.eventType,
    data: event.payload as Record<string, unknown>,
    metadata: (event.metadata ?? {}) as Record<string, unknown>,
  };
}

/** `url` with a `search_path` of `schema`, so Emmett's unqualified tables land there. */
function withSearchPath(url: string, schema: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('options', `-c search_path=${schema}`);
  return parsed.toString();
}

let processorCounter = 0;

/**
 * Emmett (`@event-driven-io/emmett-postgresql`) as a peer of pup on PostgreSQL, driven through its
 * documented API: `getPostgreSQLEventStore` (`appendToStream`, `readStream`) and a consumer with
 * a no-op reactor for catch-ups. Its tables live in a schema of their own (`config.peerSchema`);
 * its connections come from its own `pg` pool (Emmett has no postgres.js support). Nothing
 * connects before `open()`.
 */
export function createEmmettPeer(config: TargetConfig): PeerTarget {
  let store: EmmettStore | null = null;
  let core: EmmettCore | null = null;
  let unavailable: string | null = 'not opened';
  const version = packageVersion('@event-driven-io/emmett-postgresql');

  const admin = async <T>(fn: (client: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: config.postgresUrl });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  };

  const append = async (events: readonly NewEvent[]): Promise<void> => {
    const first = events[0]!;
    await store!.appendToStream(streamName(first), events.map(emmettEvent), {
      expectedStreamVersion: core!.STREAM_DOES_NOT_EXIST,
    });
  };

  const ops: SideOps = {
    append,
    appendToStream: append,
    async readStream(stream) {
      return (await store!.readStream(streamName(stream))).events.length;
    },
    async catchUp({ total, batchSize, onBatch, signal }: CatchUpOptions) {
      processorCounter += 1;
      let seen = 0;
      // No `stopWhen: { noMessagesLeft: true }`: Emmett reads only below the oldest transaction
      // still running on the server, so a read can come back empty while another session's
      // transaction is open; the reactor stops itself once it has seen `total` events instead.
      const consumer = store!.consumer({
        pulling: { batchSize, pullingFrequencyInMs: PULLING_FREQUENCY_MS },
      });
      consumer.reactor({
        processorId: `bench-catch-up-${process.pid}-${processorCounter}`,
        eachMessage: () => {
          seen += 1;
          if (onBatch !== undefined && seen % batchSize === 0) onBatch(seen);
          return seen >= total ? { type: 'STOP' as const } : undefined;
        },
      });
      const stop = () => void consumer.stop();
      const timeout = setTimeout(stop, CATCH_UP_TIMEOUT_MS);
      signal?.addEventListener('abort', stop);
      try {
        // Resolves once the reactor stopped; `close()` would also end the store's pool, which
        // the consumer shares.
        await consumer.start();
      } finally {
        clearTimeout(timeout);
        signal?.removeEventListener('abort', stop);
      }
      return seen;
    },
  };

  return {
    name: `emmett ${version}`,
    workloads: EMMETT_WORKLOADS,
    unavailable: () => unavailable,
    async open() {
      try {
        const [emmettPostgres, emmettCore] = await Promise.all([
          import('@event-driven-io/emmett-postgresql'),
          import('@event-driven-io/emmett'),
        ]);
        core = emmettCore;
        await admin((client) => client.query(`CREATE SCHEMA IF NOT EXISTS ${config.peerSchema}`));
        store = emmettPostgres.getPostgreSQLEventStore(
          withSearchPath(config.postgresUrl, config.peerSchema),
        );
        await store.schema.migrate();
        // Emmett creates its functions only when no schema of the server has one of that name.
        const found = await admin((client) =>
          client.query(
            `SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = $1 AND p.proname = 'emt_append_to_stream'`,
            [config.peerSchema],
          ),
        );
        if (found.rowCount !== 1) {
          throw new Error(
            `Emmett did not create its functions in ${config.peerSchema}: another schema of ` +
              'this server has them (Emmett looks them up by name in every schema)',
          );
        }
        unavailable = null;
      } catch (error) {
        unavailable = `Emmett: ${error instanceof Error ? error.message : String(error)}`;
      }
    },
    async close() {
      await store?.close();
      store = null;
    },
    async empty() {
      await store!.schema.dangerous.truncate({ resetSequences: true });
    },
    async preload(count, perStream) {
      const streams = Math.ceil(count / perStream);
      let next = 0;
      const worker = async () => {
        for (let i = next++; i < streams; i = next++) {
          const size = Math.min(perStream, count - i * perStream);
          await append(eventsFor(preloadedStream(i), size));
        }
      };
      await Promise.all(Array.from({ length: PRELOAD_CONCURRENCY }, worker));
      await admin(async (client) => {
        await client.query(`VACUUM ANALYZE ${config.peerSchema}.emt_messages`);
        await client.query(`VACUUM ANALYZE ${config.peerSchema}.emt_streams`);
        await client.query('CHECKPOINT');
      });
    },
    environment: () => ({
      peer: `emmett-postgresql ${version} (its own pg pool, schema ${config.peerSchema})`,
      peer_consumer: `batchSize from the workload (Emmett's default: 100), pullingFrequencyInMs ${PULLING_FREQUENCY_MS} (default 50)`,
    }),
    notes(workload) {
      if (workload === 'catch-up-peer') {
        return (
          'Emmett: consumer + no-op reactor, one transaction per batch with a checkpoint ' +
          `UPDATE per event; ${PULLING_FREQUENCY_MS} ms between full batches (default 50 ms), ` +
          'its fixed 100 ms pause after the first batch; stops itself after the last event'
        );
      }
      if (workload === 'append-1-stream' || workload === 'append-100') {
        return 'Emmett: appendToStream = BEGIN; SELECT emt_append_to_stream(…); COMMIT';
      }
      if (workload === 'read-stream-100') return 'Emmett: readStream, events decoded';
      return undefined;
    },
    ops,
  };
}
