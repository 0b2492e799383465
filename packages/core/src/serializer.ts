import type { NewEvent, PersistedEvent } from './types.js';

/** The event a serializer works on: the new event on write, the stored one on read. */
export type SerializerEvent = NewEvent | Omit<PersistedEvent, 'payload'>;

/**
 * Turns payloads into bytes and back. `event` gives access to `eventType` and `eventVersion`, so
 * a serializer can upcast old payload versions on read.
 */
export interface Serializer {
  /** Encodes a payload; throw to reject it (the append fails with `InvalidEventError`). */
  serialize(payload: unknown, event: SerializerEvent): Uint8Array;
  /** Decodes stored bytes. */
  deserialize(bytes: Uint8Array, event: SerializerEvent): unknown;
}

const encoder = new TextEncoder();

const decoder = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 text of `bytes`; the drivers hand back Buffers, whose own decoder is the fastest. */
function utf8(bytes: Uint8Array): string {
  return bytes instanceof Buffer ? bytes.toString('utf8') : decoder.decode(bytes);
}

/** Default serializer: UTF-8 JSON. Rejects payloads JSON cannot represent (`undefined`, BigInt, cycles). */
export const jsonSerializer: Serializer = {
  serialize(payload) {
    const text = JSON.stringify(payload);
    if (text === undefined) {
      throw new TypeError('payload is not JSON-serializable');
    }
    return encoder.encode(text);
  },
  deserialize(bytes) {
    return JSON.parse(utf8(bytes));
  },
};

/** Passes `Uint8Array` payloads through untouched (for protobuf, Avro, encrypted blobs…). */
export const bytesSerializer: Serializer = {
  serialize(payload) {
    if (!(payload instanceof Uint8Array)) {
      throw new TypeError('bytesSerializer needs a Uint8Array payload');
    }
    return payload;
  },
  deserialize(bytes) {
    return bytes.constructor === Uint8Array
      ? bytes
      : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  },
};
