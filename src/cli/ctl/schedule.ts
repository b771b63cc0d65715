/** `--scheduled` timestamps: "now" or ISO 8601, local time when no offset, printed as Python's isoformat(). */
import { CliError } from '../errors.ts';

const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

function offsetText(minutes: number): string {
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/** The instant and its isoformat() text, or null for "now" / nothing. */
export function parseScheduled(text: string | undefined): { at: Date; iso: string } | null {
  if (!text || text === 'now') return null;
  const fail = () =>
    new CliError(
      `Unable to parse scheduled timestamp (${text}). It should be in an unambiguous format (e.g. ISO 8601)`,
      1,
    );
  const m = ISO.exec(text.trim());
  if (!m) throw fail();
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', tz] = m;
  const parts = [y, mo, d, h, mi, s].map(Number) as [number, number, number, number, number, number];
  const micros = Number(frac.padEnd(6, '0') || '0');
  const wall = Date.UTC(parts[0], parts[1] - 1, parts[2], parts[3], parts[4], parts[5]);
  const check = new Date(wall);
  if (
    check.getUTCFullYear() !== parts[0] ||
    check.getUTCMonth() !== parts[1] - 1 ||
    check.getUTCDate() !== parts[2] ||
    parts[3] > 23 ||
    parts[4] > 59 ||
    parts[5] > 59
  ) {
    throw fail();
  }
  let offset: number;
  if (tz === undefined) {
    // Local time: the offset that local midnight rules give this wall-clock time.
    offset = -new Date(parts[0], parts[1] - 1, parts[2], parts[3], parts[4], parts[5]).getTimezoneOffset();
  } else if (tz.toUpperCase() === 'Z') {
    offset = 0;
  } else {
    const t = tz.replace(':', '');
    offset = (t[0] === '-' ? -1 : 1) * (Number(t.slice(1, 3)) * 60 + Number(t.slice(3, 5) || '0'));
  }
  const at = new Date(wall - offset * 60_000 + Math.floor(micros / 1000));
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  let iso = `${pad(parts[0], 4)}-${pad(parts[1])}-${pad(parts[2])}T${pad(parts[3])}:${pad(parts[4])}:${pad(parts[5])}`;
  if (micros) iso += `.${pad(micros, 6)}`;
  return { at, iso: iso + offsetText(offset) };
}
