/**
 * Patroni's merge rules for the dynamic configuration (`patroni/utils.py: patch_config,
 * deep_compare`), reproduced exactly, plus the Python `str()` they compare values with and a
 * JSON reader that keeps Python's int/float distinction for integral floats (`30.0`).
 *
 * Everything here is pure: no I/O, no fastify.
 */

/**
 * A JSON number written with a fraction or an exponent whose value is integral (`30.0`, `1e3`).
 * Python's json.loads makes it a float, so `str()` gives `30.0`, not `30`, and PATCHing it over
 * an int `30` counts as a change. Non-integral numbers need no wrapper: JS numbers are floats.
 * `toJSON` makes JSON.stringify write the plain number.
 */
export class PyFloat {
  constructor(readonly value: number) {}
  toJSON(): number {
    return this.value;
  }
}

type Dict = Record<string, unknown>;

export function isDict(v: unknown): v is Dict {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof PyFloat);
}

/** Own-property read: a key like `__proto__` or `toString` must not find Object.prototype. */
function own(obj: Dict, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

/** Define rather than assign, so a JSON key `__proto__` stays data and never sets a prototype. */
function setOwn(obj: Dict, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
}

/** Python `repr(float)`: shortest round-trip digits, `.0` on integral values, exponent outside [1e-4, 1e16). */
export function pyFloatRepr(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : '-inf';
  if (n === 0) return Object.is(n, -0) ? '-0.0' : '0.0';
  const [mantissa, expText] = n.toExponential().split('e') as [string, string];
  const exp = Number(expText);
  const negative = mantissa.startsWith('-');
  const digits = mantissa.replace('-', '').replace('.', '');
  const sign = negative ? '-' : '';
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const e = Math.abs(exp).toString().padStart(2, '0');
    return `${sign}${m}e${exp < 0 ? '-' : '+'}${e}`;
  }
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
  const frac = digits.slice(exp + 1);
  return `${sign}${intPart}.${frac === '' ? '0' : frac}`;
}

/** Python `repr(str)`: single quotes unless the text has `'` and no `"`; escapes non-printables. */
export function pyStrRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    if (ch === quote || ch === '\\') out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch !== ' ' && /[\p{C}\p{Z}]/u.test(ch)) {
      // Python's str.isprintable(): everything in categories C* and Z* except the ASCII space.
      const cp = ch.codePointAt(0)!;
      if (cp < 0x100) out += '\\x' + cp.toString(16).padStart(2, '0');
      else if (cp < 0x10000) out += '\\u' + cp.toString(16).padStart(4, '0');
      else out += '\\U' + cp.toString(16).padStart(8, '0');
    } else out += ch;
  }
  return out + quote;
}

function pyRepr(v: unknown): string {
  return typeof v === 'string' ? pyStrRepr(v) : pyStr(v);
}

/** Python `str()` of a value as json.loads would have produced it (dict, list, str, int, float, bool, None). */
export function pyStr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'string') return v;
  if (v instanceof PyFloat) return pyFloatRepr(v.value);
  if (typeof v === 'number') {
    // JSON integers are Python ints: exact decimal digits, never an exponent.
    return Number.isInteger(v) ? BigInt(v).toString() : pyFloatRepr(v);
  }
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  if (isDict(v)) {
    return `{${Object.keys(v)
      .map((k) => `${pyStrRepr(k)}: ${pyRepr(v[k])}`)
      .join(', ')}}`;
  }
  return String(v);
}

/**
 * `patch_config(config, data)`: merge `patch` into `config` in place (pass a copy) and say whether
 * anything changed.
 * - `null` deletes the key; it counts as a change only when the old value was not null itself
 *   (Patroni: `config.pop(name, None) is not None`), though the key goes either way.
 * - a dict over a dict recurses; a dict over anything else replaces.
 * - any other value replaces only when `str(old) != str(new)`, so `"5"` over `5` keeps the int.
 * - a new key is set as given (nulls nested in a new dict are kept verbatim).
 */
export function patchConfig(config: Dict, patch: Dict): boolean {
  let changed = false;
  for (const name of Object.keys(patch)) {
    const value = patch[name];
    if (value === null) {
      if (Object.hasOwn(config, name)) {
        const old = config[name];
        delete config[name];
        if (old !== null && old !== undefined) changed = true;
      }
    } else if (Object.hasOwn(config, name)) {
      const old = config[name];
      if (isDict(value)) {
        if (isDict(old)) {
          if (patchConfig(old, value)) changed = true;
        } else {
          setOwn(config, name, value);
          changed = true;
        }
      } else if (pyStr(old) !== pyStr(value)) {
        setOwn(config, name, value);
        changed = true;
      }
    } else {
      setOwn(config, name, value);
      changed = true;
    }
  }
  return changed;
}

/** `deep_compare(a, b)`: same key sets, dicts recursively, everything else by `str()`. */
export function deepCompare(a: Dict, b: Dict): boolean {
  const ka = Object.keys(a);
  const kb = new Set(Object.keys(b));
  if (ka.length !== kb.size || !ka.every((k) => kb.has(k))) return false;
  for (const k of ka) {
    const va = a[k];
    const vb = own(b, k);
    if (isDict(va)) {
      if (!(isDict(vb) && deepCompare(va, vb))) return false;
    } else if (pyStr(va) !== pyStr(vb)) return false;
  }
  return true;
}

/** A deep copy of JSON data that keeps PyFloat markers and `__proto__` keys as plain data. */
export function cloneJson<T>(v: T): T {
  if (Array.isArray(v)) return v.map((x) => cloneJson(x)) as T;
  if (isDict(v)) {
    const out: Dict = {};
    for (const k of Object.keys(v)) setOwn(out, k, cloneJson(v[k]));
    return out as T;
  }
  return v;
}

/** Drop the PyFloat markers: what goes to the DCS and into JSON replies is plain JSON data. */
export function plainJson(v: unknown): unknown {
  if (v instanceof PyFloat) return v.value;
  if (Array.isArray(v)) return v.map(plainJson);
  if (isDict(v)) {
    const out: Dict = {};
    for (const k of Object.keys(v)) setOwn(out, k, plainJson(v[k]));
    return out;
  }
  return v;
}

const FLOAT_KEY = '\u0000pgwarden:pyfloat';
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/**
 * JSON.parse, except that integral numbers written as floats (`30.0`, `1e3`) come back as
 * PyFloat, as Python's json.loads would keep them floats. Throws SyntaxError on bad JSON.
 */
export function parsePyJson(text: string): unknown {
  let marked = '';
  let last = 0;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      // Skip a string literal (escapes included); JSON.parse validates it afterwards.
      i++;
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      i++;
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(text);
      if (!m) {
        i++;
        continue;
      }
      const token = m[0];
      if (/[.eE]/.test(token) && Number.isInteger(Number(token))) {
        marked += text.slice(last, i) + `{${JSON.stringify(FLOAT_KEY)}:${token}}`;
        last = i + token.length;
      }
      i += token.length;
    } else i++;
  }
  marked += text.slice(last);
  return JSON.parse(marked, function (this: unknown, _key: string, value: unknown) {
    if (isDict(value)) {
      const keys = Object.keys(value);
      if (keys.length === 1 && keys[0] === FLOAT_KEY) return new PyFloat(value[FLOAT_KEY] as number);
    }
    return value;
  });
}
