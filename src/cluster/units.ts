/**
 * Patroni's parse_int(value, base_unit): an integer read like C strtol base 0 (re-read as a
 * float when `.`, `e` or `E` follows), an optional case-sensitive unit, converted to the base
 * unit. A fractional value is first rounded half-to-even to whole units of the next smaller
 * unit, the result to a whole number of base units. Used for `?lag=` (bytes) and restart
 * `timeout` (seconds), exactly as Patroni reads them.
 */

/** Size of each unit in the smallest unit of its family (bytes, milliseconds). */
const SIZE: Record<string, number> = {
  B: 1,
  kB: 1024,
  MB: 1024 ** 2,
  GB: 1024 ** 3,
  TB: 1024 ** 4,
  ms: 1,
  s: 1000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};
const FAMILY: Record<string, 'bytes' | 'time'> = {
  B: 'bytes',
  kB: 'bytes',
  MB: 'bytes',
  GB: 'bytes',
  TB: 'bytes',
  ms: 'time',
  s: 'time',
  min: 'time',
  h: 'time',
  d: 'time',
};
const NEXT_SMALLER: Record<string, string> = {
  TB: 'GB',
  GB: 'MB',
  MB: 'kB',
  kB: 'B',
  d: 'h',
  h: 'min',
  min: 's',
  s: 'ms',
};

/** C `strtol(s, &end, 0)`: sign, then `0x` hex, leading-`0` octal or decimal. Null when no digits. */
function strtol(s: string): { value: number; rest: string } | null {
  const m = /^([+-]?)(?:0[xX]([0-9a-fA-F]+)|(0[0-7]*)|([1-9][0-9]*))/.exec(s);
  if (!m) return null;
  const [text, sign, hex, oct, dec] = m;
  const magnitude =
    hex !== undefined ? Number.parseInt(hex, 16) : oct !== undefined ? Number.parseInt(oct, 8) : Number(dec);
  return { value: sign === '-' ? -magnitude : magnitude, rest: s.slice(text.length) };
}

/** Decimal floating point as `strtod` reads it (no inf/nan). */
function strtod(s: string): { value: number; rest: string } | null {
  const m = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/.exec(s);
  return m ? { value: Number(m[0]), rest: s.slice(m[0].length) } : null;
}

/** Round half to even, as Python's round(). */
export function rint(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Undefined when the value is not a number with a known unit of the base unit's family. */
export function parseUnitInt(value: unknown, base: 'B' | 's' | 'ms'): number | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const text = String(value).trim();
  let parsed = strtol(text);
  if (/^[.eE]/.test(parsed ? parsed.rest : text)) parsed = strtod(text);
  if (!parsed) return undefined;
  const unit = parsed.rest.trim();
  let n = parsed.value;
  if (unit !== '') {
    if (FAMILY[unit] !== FAMILY[base]) return undefined;
    const smaller = NEXT_SMALLER[unit];
    if (smaller !== undefined && !Number.isInteger(n)) {
      n = (rint((n * SIZE[unit]!) / SIZE[smaller]!) * SIZE[smaller]!) / SIZE[unit]!;
    }
    n = (n * SIZE[unit]!) / SIZE[base]!;
  }
  const whole = rint(n);
  return Number.isFinite(whole) ? whole : undefined;
}
