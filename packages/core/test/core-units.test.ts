import { describe, expect, it } from 'vitest';
import {
  derivedIdentifier,
  derivedTableName,
  isUuid,
  positionCheckpoint,
  positionCheckpoints,
  quoteQualifiedName,
  resolveEventStoreOptions,
  resolveTableNames,
  uuidv7,
} from '../src/adapter/index.js';
import {
  bytesSerializer,
  compareCheckpoints,
  ExpectedVersion,
  InvalidArgumentError,
  InvalidConfigError,
  jsonSerializer,
} from '../src/index.js';

describe('uuidv7', () => {
  it('is a version 7, variant 1 UUID carrying the timestamp', () => {
    const id = uuidv7(0x0123456789ab);
    expect(isUuid(id)).toBe(true);
    expect(id.slice(0, 13)).toBe('01234567-89ab');
    expect(id[14]).toBe('7');
    expect(['8', '9', 'a', 'b']).toContain(id[19]);
  });

  it('sorts by time and does not repeat', () => {
    const ids = Array.from({ length: 5000 }, (_, i) => uuidv7(1_700_000_000_000 + i));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('table names', () => {
  it('defaults, overrides and quotes schema-qualified names', () => {
    expect(resolveTableNames()).toEqual({
      events: 'events',
      aggregateHeads: 'aggregate_heads',
      checkpoints: 'projection_checkpoints',
    });
    const names = resolveTableNames({ events: 'es.events_v2' });
    expect(names.events).toBe('es.events_v2');
    expect(quoteQualifiedName(names.events, '"')).toBe('"es"."events_v2"');
    expect(quoteQualifiedName(names.events, '`')).toBe('`es`.`events_v2`');
  });

  it.each([
    ['', 'tables.events'],
    ['events; drop table x', 'tables.events'],
    ['a.b.c', 'tables.events'],
    ['1events', 'tables.events'],
    ['"events"', 'tables.events'],
    ['x'.repeat(64), 'tables.events'],
  ])('rejects %j with InvalidConfigError', (name, option) => {
    try {
      resolveTableNames({ events: name });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidConfigError);
      expect((error as InvalidConfigError).code).toBe('INVALID_CONFIG');
      expect((error as InvalidConfigError).option).toBe(option);
    }
  });

  it('rejects unknown keys and repeated names', () => {
    expect(() => resolveTableNames({ evnts: 'x' } as never)).toThrow(InvalidConfigError);
    expect(() => resolveTableNames({ events: 'same', checkpoints: 'SAME' })).toThrow(
      InvalidConfigError,
    );
  });

  it('rejects a configured name that is the name of a derived table, on any adapter', () => {
    for (const tables of [
      { aggregateHeads: 'events_meta' },
      { events: 'app.log', checkpoints: 'app.LOG_META' },
      { aggregateHeads: 'projection_checkpoints_leases' },
      { events: 'projection_checkpoints_dead_letters' },
    ]) {
      expect(() => resolveTableNames(tables)).toThrow(InvalidConfigError);
    }
    expect(() =>
      resolveTableNames({ aggregateHeads: 'events_blocks' }, { blocks: ['events', 'blocks'] }),
    ).toThrow(InvalidConfigError);
    // Another schema is another table.
    expect(resolveTableNames({ events: 'a.log', checkpoints: 'b.log_meta' }).checkpoints).toBe(
      'b.log_meta',
    );
  });

  it('derives names that fit 63 characters from names of any valid length', () => {
    const long = 'e'.repeat(63);
    expect(derivedTableName(`s.${long}`, 'meta')).toEqual(['s', `${'e'.repeat(58)}_meta`]);
    expect(derivedIdentifier('events', 'meta')).toBe('events_meta');
    expect(resolveTableNames({ events: long }).events).toBe(long);
  });

  it('validates serializer and logger options', () => {
    expect(() => resolveEventStoreOptions({ serializer: {} as never })).toThrow(InvalidConfigError);
    expect(() => resolveEventStoreOptions({ logger: { info() {} } as never })).toThrow(
      InvalidConfigError,
    );
    expect(resolveEventStoreOptions(undefined).serializer).toBe(jsonSerializer);
  });
});

describe('position checkpoints', () => {
  it('round-trip and compare as strings in position order', () => {
    const positions = [1, 9, 10, 99, 100, 12345, Number.MAX_SAFE_INTEGER];
    const tokens = positions.map(positionCheckpoint);
    expect(tokens.map((token) => positionCheckpoints.parse(token))).toEqual(positions);
    expect([...tokens].sort()).toEqual(tokens);
    expect(compareCheckpoints(tokens[0]!, tokens[1]!)).toBeLessThan(0);
    expect(compareCheckpoints(null, tokens[0]!)).toBeLessThan(0);
  });

  it('do not parse foreign tokens', () => {
    expect(positionCheckpoints.parse('12')).toBeUndefined();
    expect(positionCheckpoints.parse('00000000000000000000001-1')).toBeUndefined();
    expect(positionCheckpoints.parse('9999999999999999')).toBeUndefined();
  });
});

describe('ExpectedVersion', () => {
  it('matches current versions per kind', () => {
    expect(ExpectedVersion.any().matches(5)).toBe(true);
    expect(ExpectedVersion.noStream().matches(0)).toBe(true);
    expect(ExpectedVersion.noStream().matches(1)).toBe(false);
    expect(ExpectedVersion.streamExists().matches(0)).toBe(false);
    expect(ExpectedVersion.exact(0).matches(0)).toBe(true);
    expect(ExpectedVersion.exact(3).matches(2)).toBe(false);
    expect(ExpectedVersion.exact(3).toString()).toBe('exact(3)');
  });

  it.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '2' as never])(
    'rejects exact(%s)',
    (value) => {
      expect(() => ExpectedVersion.exact(value)).toThrow(InvalidArgumentError);
    },
  );
});

describe('serializers', () => {
  const event = {
    boundedContext: 'c',
    aggregateType: 't',
    aggregateId: 'i',
    eventType: 'e',
    payload: null,
  };

  it('JSON round-trips unicode and rejects what JSON cannot hold', () => {
    const payload = { text: 'zażółć 🐶', n: [1, 2.5, null] };
    expect(jsonSerializer.deserialize(jsonSerializer.serialize(payload, event), event)).toEqual(
      payload,
    );
    expect(() => jsonSerializer.serialize(undefined, event)).toThrow(TypeError);
    expect(() => jsonSerializer.serialize({ big: 1n }, event)).toThrow(TypeError);
  });

  it('bytes pass through and read back as plain Uint8Array', () => {
    const bytes = new Uint8Array([0, 255, 1]);
    expect(bytesSerializer.serialize(bytes, event)).toBe(bytes);
    const back = bytesSerializer.deserialize(Buffer.from(bytes), event) as Uint8Array;
    expect(back.constructor).toBe(Uint8Array);
    expect([...back]).toEqual([0, 255, 1]);
    expect(() => bytesSerializer.serialize('text', event)).toThrow(TypeError);
  });
});
