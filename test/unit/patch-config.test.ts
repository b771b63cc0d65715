import { describe, expect, it } from 'vitest';
import {
  cloneJson,
  deepCompare,
  PyFloat,
  parsePyJson,
  patchConfig,
  plainJson,
  pyFloatRepr,
  pyStr,
  pyStrRepr,
} from '../../src/config/patch-config.ts';

describe('pyStr (Python str() of json.loads values)', () => {
  it('scalars', () => {
    expect(pyStr(true)).toBe('True');
    expect(pyStr(false)).toBe('False');
    expect(pyStr(null)).toBe('None');
    expect(pyStr(5)).toBe('5');
    expect(pyStr(-12)).toBe('-12');
    expect(pyStr('5')).toBe('5');
    expect(pyStr('')).toBe('');
    expect(pyStr(1.5)).toBe('1.5');
    expect(pyStr(new PyFloat(1))).toBe('1.0');
    expect(pyStr(new PyFloat(-0))).toBe('-0.0');
    expect(pyStr(2 ** 60)).toBe('1152921504606846976');
    expect(pyStr(1e21)).toBe('1000000000000000000000');
  });

  it('floats like repr(float)', () => {
    expect(pyFloatRepr(100)).toBe('100.0');
    expect(pyFloatRepr(123.456)).toBe('123.456');
    expect(pyFloatRepr(0.1 + 0.2)).toBe('0.30000000000000004');
    expect(pyFloatRepr(1e16)).toBe('1e+16');
    expect(pyFloatRepr(1.5e16)).toBe('1.5e+16');
    expect(pyFloatRepr(1e22)).toBe('1e+22');
    expect(pyFloatRepr(1e15)).toBe('1000000000000000.0');
    expect(pyFloatRepr(1e-5)).toBe('1e-05');
    expect(pyFloatRepr(0.0001)).toBe('0.0001');
    expect(pyFloatRepr(-2.5e-7)).toBe('-2.5e-07');
    expect(pyFloatRepr(1795636677.123456)).toBe('1795636677.123456');
    expect(pyFloatRepr(Number.POSITIVE_INFINITY)).toBe('inf');
  });

  it('lists and dicts use repr() inside', () => {
    expect(pyStr([1, 'a', true, null, 1.5, { k: "it's" }])).toBe(`[1, 'a', True, None, 1.5, {'k': "it's"}]`);
    expect(pyStr({ a: { b: [new PyFloat(1), 2] }, c: null })).toBe(`{'a': {'b': [1.0, 2]}, 'c': None}`);
    expect(pyStr([])).toBe('[]');
    expect(pyStr({})).toBe('{}');
  });

  it('string repr: quotes and escapes', () => {
    expect(pyStrRepr('x"y')).toBe(`'x"y'`);
    expect(pyStrRepr(`a'b"c`)).toBe(`'a\\'b"c'`);
    expect(pyStrRepr('\n\t\\')).toBe(`'\\n\\t\\\\'`);
    expect(pyStrRepr('\u0000é\u2028\u00a0')).toBe(`'\\x00é\\u2028\\xa0'`);
    expect(pyStrRepr('a b')).toBe(`'a b'`);
  });
});

describe('patchConfig', () => {
  const base = () => ({
    ttl: 30,
    loop_wait: 10,
    postgresql: { use_pg_rewind: true, parameters: { max_connections: 100, wal_level: 'replica' } },
    tags: ['a', 'b'],
  });

  it('sets new keys and replaces changed scalars', () => {
    const c = base();
    expect(patchConfig(c, { ttl: 20, synchronous_mode: true })).toBe(true);
    expect(c).toMatchObject({ ttl: 20, synchronous_mode: true, loop_wait: 10 });
  });

  it('recurses into dicts, keeping siblings', () => {
    const c = base();
    expect(patchConfig(c, { postgresql: { parameters: { max_connections: 200 } } })).toBe(true);
    expect(c.postgresql).toEqual({
      use_pg_rewind: true,
      parameters: { max_connections: 200, wal_level: 'replica' },
    });
  });

  it('null deletes; deleting a missing key is no change', () => {
    const c = base();
    expect(patchConfig(c, { postgresql: { parameters: { wal_level: null } } })).toBe(true);
    expect(c.postgresql.parameters).toEqual({ max_connections: 100 });
    expect(patchConfig(c, { nonexistent: null })).toBe(false);
    expect(c).not.toHaveProperty('nonexistent');
  });

  it('deleting a key whose value is null removes it but is not a change (config.pop(...) is not None)', () => {
    const c: Record<string, unknown> = { a: null, b: 1 };
    expect(patchConfig(c, { a: null })).toBe(false);
    expect(c).toEqual({ b: 1 });
  });

  it('str() equality: "5" over 5 is unchanged and keeps the int', () => {
    const c: Record<string, unknown> = { x: 5, y: true, z: 'True', l: [1, 2] };
    expect(patchConfig(c, { x: '5', y: 'True', z: true, l: '[1, 2]' })).toBe(false);
    expect(c).toEqual({ x: 5, y: true, z: 'True', l: [1, 2] });
  });

  it('an integral float is a change over an int (str 30.0 != 30)', () => {
    const c: Record<string, unknown> = { ttl: 30 };
    expect(patchConfig(c, { ttl: new PyFloat(30) })).toBe(true);
    expect(plainJson(c)).toEqual({ ttl: 30 });
  });

  it('lists replace when their str differs', () => {
    const c = base();
    expect(patchConfig(c, { tags: ['a', 'b'] })).toBe(false);
    expect(patchConfig(c, { tags: ['a'] })).toBe(true);
    expect(c.tags).toEqual(['a']);
  });

  it('a dict over a non-dict replaces; a scalar over a dict compares str()', () => {
    const c: Record<string, unknown> = { a: 1, b: { k: 1 } };
    expect(patchConfig(c, { a: { x: 1 } })).toBe(true);
    expect(c['a']).toEqual({ x: 1 });
    expect(patchConfig(c, { b: "{'k': 1}" })).toBe(false);
    expect(patchConfig(c, { b: 3 })).toBe(true);
    expect(c['b']).toBe(3);
  });

  it('nulls inside a brand-new dict are kept verbatim', () => {
    const c: Record<string, unknown> = {};
    expect(patchConfig(c, { standby_cluster: { host: 'h', port: null } })).toBe(true);
    expect(c).toEqual({ standby_cluster: { host: 'h', port: null } });
  });

  it('a nested patch with no effective change is not a change', () => {
    const c = base();
    expect(patchConfig(c, { postgresql: { parameters: { max_connections: '100' } }, ttl: 30 })).toBe(false);
  });

  it('a __proto__ key stays data and never touches a prototype', () => {
    const c: Record<string, unknown> = {};
    const patch = JSON.parse('{"__proto__": {"polluted": 1}}');
    expect(patchConfig(c, patch)).toBe(true);
    expect(Object.hasOwn(c, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.getPrototypeOf(c)).toBe(Object.prototype);
    expect(JSON.stringify(c)).toBe('{"__proto__":{"polluted":1}}');
  });

  it('inherited names are not treated as existing keys', () => {
    const c: Record<string, unknown> = {};
    expect(patchConfig(c, { toString: { a: 1 } })).toBe(true);
    expect(Object.hasOwn(c, 'toString')).toBe(true);
  });
});

describe('deepCompare', () => {
  it('equal by key sets and str()', () => {
    expect(deepCompare({ a: 1, b: { c: 'x' } }, { b: { c: 'x' }, a: '1' })).toBe(true);
    expect(deepCompare({ a: true }, { a: 'True' })).toBe(true);
    expect(deepCompare({ a: null }, { a: 'None' })).toBe(true);
  });
  it('different keys, values or shapes', () => {
    expect(deepCompare({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(deepCompare({ a: 1, b: 2 }, { a: 1 })).toBe(false);
    expect(deepCompare({ a: 1 }, { b: 1 })).toBe(false);
    expect(deepCompare({ a: 1 }, { a: 2 })).toBe(false);
    expect(deepCompare({ a: { x: 1 } }, { a: "{'x': 1}" })).toBe(false);
    expect(deepCompare({ a: 1 }, { a: new PyFloat(1) })).toBe(false);
    expect(deepCompare({ a: { x: [1, 'b'] } }, { a: { x: [1, 'b'] } })).toBe(true);
    expect(deepCompare({ a: { x: [1, 'b'] } }, { a: { x: [1, 'c'] } })).toBe(false);
  });
  it('a non-dict in the first over a dict in the second compares str()', () => {
    expect(deepCompare({ a: "{'x': 1}" }, { a: { x: 1 } })).toBe(true);
  });
});

describe('parsePyJson', () => {
  it('parses JSON and marks integral floats', () => {
    const v = parsePyJson(
      '{"a": 30.0, "b": 30, "c": 1.5, "d": [1e3, -0.0], "e": "30.0", "f": "x\\"1.0"}',
    ) as Record<string, unknown>;
    expect(v['a']).toBeInstanceOf(PyFloat);
    expect((v['a'] as PyFloat).value).toBe(30);
    expect(v['b']).toBe(30);
    expect(v['c']).toBe(1.5);
    expect(pyStr(v['d'])).toBe('[1000.0, -0.0]');
    expect(v['e']).toBe('30.0');
    expect(v['f']).toBe('x"1.0');
    expect(plainJson(v)).toEqual({ a: 30, b: 30, c: 1.5, d: [1000, -0], e: '30.0', f: 'x"1.0' });
  });
  it('rejects bad JSON', () => {
    expect(() => parsePyJson('{"a": 1.0,}')).toThrow(SyntaxError);
    expect(() => parsePyJson('{1.0: 2}')).toThrow(SyntaxError);
    expect(() => parsePyJson('nope')).toThrow(SyntaxError);
  });
  it('cloneJson copies deeply', () => {
    const a = { x: { y: [1, { z: 2 }] } };
    const b = cloneJson(a);
    expect(b).toEqual(a);
    (b.x.y[1] as { z: number }).z = 3;
    expect((a.x.y[1] as { z: number }).z).toBe(2);
  });
});
