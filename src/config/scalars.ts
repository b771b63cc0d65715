/** Value-level parsing shared by the file, environment and `/config` readers. */
import { ConfigError } from './error.ts';

export type Dict = Record<string, unknown>;

const TRUE_WORDS = new Set(['on', 'true', 'yes', '1']);
const FALSE_WORDS = new Set(['off', 'false', 'no', '0']);

/** Patroni's parse_bool: undefined when the value is not recognisably boolean. */
export function parseBool(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const word = String(value).toLowerCase(); // no trimming: Patroni's parse_bool does not strip either
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  return undefined;
}

/** Like Python's int() on YAML/JSON values: integral strings and numbers (truncated); no booleans. */
export function toInt(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? Math.trunc(value) : undefined;
  if (typeof value === 'string' && /^\s*[+-]?\d+\s*$/.test(value)) return Number.parseInt(value, 10);
  return undefined;
}

export function isDict(value: unknown): value is Dict {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** Splits `host:port` / `[v6]:port`; brackets are dropped from the host. */
export function splitHostPort(
  value: string,
  key: string,
  defaultPort?: number,
): { host: string; port: number } {
  const text = value.trim();
  let host: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) throw new ConfigError(key, `unbalanced [ in ${JSON.stringify(value)}`);
    host = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':'))
      throw new ConfigError(key, `expected host:port, got ${JSON.stringify(value)}`);
    portText = rest === '' ? undefined : rest.slice(1);
  } else {
    const colon = text.lastIndexOf(':');
    host = colon < 0 ? text : text.slice(0, colon);
    portText = colon < 0 ? undefined : text.slice(colon + 1);
  }
  if (portText === undefined) {
    if (defaultPort === undefined)
      throw new ConfigError(key, `expected host:port, got ${JSON.stringify(value)}`);
    return { host, port: defaultPort };
  }
  return { host, port: parsePort(portText, key) };
}

export function parsePort(text: string, key: string): number {
  const port = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!(port >= 0 && port <= 65535))
    throw new ConfigError(key, `port must be a number 0-65535, got ${JSON.stringify(text)}`);
  return port;
}

export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** `/` + namespace + `/` with runs of slashes collapsed, as the DCS layer builds its base path. */
export function normaliseNamespace(namespace: string): string {
  return `/${namespace}/`.replace(/\/+/g, '/');
}

export type Scalar = string | number | boolean;
export function isScalar(v: unknown): v is Scalar {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}
