import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ExpectedVersion } from '../../expected-version.js';
import { bytesSerializer } from '../../serializer.js';
import type { EventStore, PersistedEvent, StreamRef } from '../../types.js';
import {
  appendInTransaction,
  makeEvent,
  readStream,
  uniqueStream,
  useGroupStore,
  waitForLog,
} from '../helpers.js';
import { limitTime } from '../time-limits.js';
import type { ConformanceHarness, ConformanceTestApi } from '../types.js';

const MIB = 1024 * 1024;

function assertSameBytes(actual: unknown, expected: Uint8Array, what: string): void {
  assert.ok(actual instanceof Uint8Array, `${what} reads back as a Uint8Array`);
  assert.equal(actual.byteLength, expected.byteLength, `${what} keeps its length`);
  assert.ok(
    Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength).equals(expected),
    `${what} keeps every byte`,
  );
}

/** Reads a stream back through both read paths and returns what each returned. */
async function readBothWays(
  store: EventStore<any>,
  stream: StreamRef,
  firstCheckpoint: string,
): Promise<{ fromStream: PersistedEvent[]; fromLog: PersistedEvent[] }> {
  const fromStream = (await readStream(store, stream)).events;
  const all = await waitForLog(
    store,
    fromStream.map((e) => e.eventId),
  );
  const start = all.findIndex((e) => e.checkpoint === firstCheckpoint);
  assert.ok(start >= 0, 'the appended events are in the log');
  const fromLog = all.slice(start).filter((e) => e.aggregateId === stream.aggregateId);
  return { fromStream, fromLog };
}

/**
 * Registers the payloads group: JSON payloads with unicode and nesting, metadata objects, a
 * 1 MiB payload, and the bytes serializer passing bytes through exactly.
 */
export function describePayloadConformance(
  testApi: ConformanceTestApi,
  harness: ConformanceHarness,
): void {
  const api = limitTime(testApi, harness);
  api.describe('payloads', () => {
    api.describe('JSON (default serializer)', () => {
      const subject = useGroupStore(api, harness);

      api.it('round-trips unicode, emoji, nesting and every JSON value', async () => {
        const { store } = subject();
        const stream = uniqueStream('payload-json');
        const payloads: unknown[] = [
          {
            text: 'héllo wörld — “quotes” ‘single’ \\ backslash \n newline \t tab',
            cjk: '日本語の文字列',
            emoji: '🐶🐱 👩‍👩‍👧 🇫🇷',
            rtl: 'مرحبا',
            nul: 'before\u0000after',
            lone: 'surrogate-free \u00e9\u0301',
          },
          { nested: { deeper: { deepest: [1, [2, [3, { four: 4 }]]] } }, empty: {}, list: [] },
          {
            int: 42,
            negative: -7,
            float: 0.1 + 0.2,
            big: Number.MAX_SAFE_INTEGER,
            tiny: 1e-300,
            yes: true,
            no: false,
            nothing: null,
          },
          ['an', 'array', 'payload'],
          'a bare string',
          12345,
          true,
          null,
        ];
        const result = await appendInTransaction(
          store,
          ExpectedVersion.noStream(),
          payloads.map((payload) => makeEvent(stream, { payload })),
        );
        const { fromStream, fromLog } = await readBothWays(
          store,
          stream,
          result.events[0]!.checkpoint,
        );
        assert.deepEqual(
          fromStream.map((e) => e.payload),
          payloads,
        );
        assert.deepEqual(
          fromLog.map((e) => e.payload),
          payloads,
        );
        assert.deepEqual(
          result.events.map((e) => e.payload),
          payloads,
        );
      });

      api.it('round-trips metadata objects', async () => {
        const { store } = subject();
        const stream = uniqueStream('payload-metadata');
        const metadatas = [
          { userId: 'user-1', ip: '192.0.2.1' },
          {
            nested: { roles: ['admin', 'ops'], flags: { beta: true, legacy: false } },
            count: 3,
            ratio: 0.25,
            nothing: null,
            unicode: 'Zürich 🏔️ 東京',
          },
          {},
        ];
        const result = await appendInTransaction(
          store,
          ExpectedVersion.noStream(),
          metadatas.map((metadata) => makeEvent(stream, { metadata })),
        );
        const { fromStream, fromLog } = await readBothWays(
          store,
          stream,
          result.events[0]!.checkpoint,
        );
        assert.deepEqual(
          fromStream.map((e) => e.metadata),
          metadatas,
        );
        assert.deepEqual(
          fromLog.map((e) => e.metadata),
          metadatas,
        );
        assert.deepEqual(
          result.events.map((e) => e.metadata),
          metadatas,
        );
      });

      api.it('round-trips unicode in stream names, event types and trace fields', async () => {
        const { store } = subject();
        const stream = uniqueStream('payload-names-ü', {
          boundedContext: 'ventes-été',
          aggregateType: 'Commande📦',
        });
        await appendInTransaction(store, ExpectedVersion.noStream(), [
          makeEvent(stream, {
            eventType: 'CommandeExpédiée✈️',
            traceId: 'trace-τ',
            correlationId: 'corr-関連',
            causationId: 'cause-🧨',
          }),
        ]);
        const [event] = (await readStream(store, stream)).events;
        assert.equal(event?.boundedContext, 'ventes-été');
        assert.equal(event?.aggregateType, 'Commande📦');
        assert.equal(event?.aggregateId, stream.aggregateId);
        assert.equal(event?.eventType, 'CommandeExpédiée✈️');
        assert.equal(event?.traceId, 'trace-τ');
        assert.equal(event?.correlationId, 'corr-関連');
        assert.equal(event?.causationId, 'cause-🧨');
      });

      api.it('stored payloads do not change when the caller mutates an object', async () => {
        const { store } = subject();
        const stream = uniqueStream('payload-json-copy');
        const payload = { items: ['a'], total: 1 };
        const metadata = { tags: ['x'] };
        await appendInTransaction(store, ExpectedVersion.noStream(), [
          makeEvent(stream, { payload, metadata }),
        ]);
        payload.items.push('b');
        metadata.tags.push('y');
        const [first] = (await readStream(store, stream)).events;
        assert.deepEqual(first?.payload, { items: ['a'], total: 1 });
        assert.deepEqual(first?.metadata, { tags: ['x'] });
        assert.ok(first);
        (first.payload as { items: string[] }).items.push('c');
        (first.metadata as { tags: string[] }).tags.push('z');
        const [second] = (await readStream(store, stream)).events;
        assert.deepEqual(second?.payload, { items: ['a'], total: 1 });
        assert.deepEqual(second?.metadata, { tags: ['x'] });
      });

      api.it('round-trips a 1 MiB payload', async () => {
        const { store } = subject();
        const stream = uniqueStream('payload-large');
        // Random base64 text, so compression or truncation shows.
        const data = randomBytes((MIB * 3) / 4).toString('base64');
        assert.equal(data.length, MIB);
        const payload = { data, tail: 'end' };
        await appendInTransaction(store, ExpectedVersion.noStream(), [
          makeEvent(stream, { payload }),
          makeEvent(stream, { payload: { small: true } }),
        ]);
        const { events } = await readStream(store, stream);
        const read = events[0]?.payload as { data: string; tail: string };
        assert.equal(read.data.length, MIB);
        assert.ok(read.data === data, 'the 1 MiB string reads back unchanged');
        assert.equal(read.tail, 'end');
        assert.deepEqual(events[1]?.payload, { small: true });
      });
    });

    api.describe('bytes serializer', () => {
      const subject = useGroupStore(api, harness, { serializer: bytesSerializer });

      api.it('passes every byte value through untouched', async () => {
        const { store } = subject();
        const stream = uniqueStream('payload-bytes');
        const everyByte = Uint8Array.from({ length: 512 }, (_, i) => i % 256);
        const invalidUtf8 = Uint8Array.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0xa0, 0xa1, 0x80]);
        const empty = new Uint8Array(0);
        const payloads = [everyByte, invalidUtf8, empty];
        const result = await appendInTransaction(
          store,
          ExpectedVersion.noStream(),
          payloads.map((payload) => makeEvent(stream, { payload, eventType: 'Binary' })),
        );
        const { fromStream, fromLog } = await readBothWays(
          store,
          stream,
          result.events[0]!.checkpoint,
        );
        payloads.forEach((payload, i) => {
          assertSameBytes(fromStream[i]?.payload, payload, `stream payload #${i}`);
          assertSameBytes(fromLog[i]?.payload, payload, `log payload #${i}`);
        });
      });

      api.it('stored bytes do not change when the caller mutates a payload', async () => {
        const { store } = subject();
        const stream = uniqueStream('payload-bytes-copy');
        const payload = Uint8Array.from([1, 2, 3, 4]);
        await appendInTransaction(store, ExpectedVersion.noStream(), [
          makeEvent(stream, { payload }),
        ]);
        payload[0] = 99;
        const first = (await readStream(store, stream)).events[0]?.payload as Uint8Array;
        assertSameBytes(
          first,
          Uint8Array.from([1, 2, 3, 4]),
          'payload after the appended array changed',
        );
        first[1] = 99;
        const second = (await readStream(store, stream)).events[0]?.payload;
        assertSameBytes(
          second,
          Uint8Array.from([1, 2, 3, 4]),
          'payload after a read array changed',
        );
      });

      api.it('round-trips 1 MiB of random bytes', async () => {
        const { store } = subject();
        const stream = uniqueStream('payload-bytes-large');
        const payload = new Uint8Array(randomBytes(MIB));
        await appendInTransaction(store, ExpectedVersion.noStream(), [
          makeEvent(stream, { payload }),
        ]);
        const [event] = (await readStream(store, stream)).events;
        assertSameBytes(event?.payload, payload, '1 MiB payload');
      });
    });
  });
}
