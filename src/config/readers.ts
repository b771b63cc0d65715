/** Typed readers: each names the full key path in its error. */
import { ConfigError } from './error.ts';
import { type Dict, describe, isDict, isScalar, parseBool, type Scalar, toInt } from './scalars.ts';

export function section(d: Dict, key: string, path: string, required: boolean): Dict | undefined {
  const v = d[key];
  if (v === undefined || v === null) {
    if (required) throw new ConfigError(path, 'required');
    return undefined;
  }
  if (!isDict(v)) throw new ConfigError(path, `must be a mapping, got ${describe(v)}`);
  return v;
}

export function optString(d: Dict, key: string, path: string): string | undefined {
  const v = d[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new ConfigError(path, `must be a string, got ${describe(v)}`);
  return v;
}

export function reqString(d: Dict, key: string, path: string): string {
  const v = optString(d, key, path);
  if (v === undefined || v.trim() === '') throw new ConfigError(path, 'required');
  return v;
}

export function optBool(d: Dict, key: string, path: string): boolean | undefined {
  const v = d[key];
  if (v === undefined || v === null) return undefined;
  const b = parseBool(v);
  if (b === undefined) throw new ConfigError(path, `must be a boolean, got ${describe(v)}`);
  return b;
}

export function optInt(d: Dict, key: string, path: string): number | undefined {
  const v = d[key];
  if (v === undefined || v === null) return undefined;
  const n = toInt(v);
  if (n === undefined || n < 0)
    throw new ConfigError(path, `must be a non-negative integer, got ${describe(v)}`);
  return n;
}

export function stringList(d: Dict, key: string, path: string): string[] | undefined {
  const v = d[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw new ConfigError(path, `must be a list, got ${describe(v)}`);
  return v.map((item, i) => {
    if (typeof item !== 'string')
      throw new ConfigError(`${path}[${i}]`, `must be a string, got ${describe(item)}`);
    return item;
  });
}

export function parameters(d: Dict, key: string, path: string): Record<string, Scalar> {
  const params = section(d, key, path, false) ?? {};
  for (const [name, value] of Object.entries(params)) {
    if (!isScalar(value))
      throw new ConfigError(`${path}.${name}`, `must be a scalar, got ${describe(value)}`);
  }
  return { ...(params as Record<string, Scalar>) };
}
