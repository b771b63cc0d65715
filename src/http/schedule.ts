import { parseUnitInt } from '../cluster/units.ts';

/** `scheduled_at` / `schedule` values as Patroni's parse_schedule judges them. */
export type ScheduleResult =
  | { ok: true; at: Date; iso: string }
  | { ok: false; status: number; text: string };

/** A time of day followed by Z or an offset: a bare date (`2030-01-01`) has no timezone. */
const TZ = /T?\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$/;

export function parseSchedule(value: unknown, action: string, now: number): ScheduleResult {
  const text = typeof value === 'string' ? value.trim() : '';
  const at = text ? new Date(text) : new Date(Number.NaN);
  if (!text || Number.isNaN(at.getTime())) {
    return {
      ok: false,
      status: 422,
      text: 'Unable to parse scheduled timestamp. It should be in an unambiguous format, e.g. ISO 8601',
    };
  }
  if (!TZ.test(text)) {
    return { ok: false, status: 400, text: `Timezone information is mandatory for the scheduled ${action}` };
  }
  if (at.getTime() < now) return { ok: false, status: 422, text: `Cannot schedule ${action} in the past` };
  return { ok: true, at, iso: pythonIsoformat(at, text) };
}

/** Python's datetime.isoformat() of the instant, in the offset the text gave (Z → +00:00). */
export function pythonIsoformat(at: Date, text: string): string {
  const m = /([zZ]|([+-])(\d{2}):?(\d{2})?)$/.exec(text);
  const sign = m?.[2] === '-' ? -1 : 1;
  const offsetMin = m && m[1]!.toUpperCase() !== 'Z' ? sign * (Number(m[3]) * 60 + Number(m[4] ?? 0)) : 0;
  const local = new Date(at.getTime() + offsetMin * 60_000);
  const base = local.toISOString().slice(0, 19);
  const ms = local.getUTCMilliseconds();
  const frac = ms === 0 ? '' : `.${String(ms * 1000).padStart(6, '0')}`;
  const abs = Math.abs(offsetMin);
  const off = `${offsetMin < 0 ? '-' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
  return `${base}${frac}${off}`;
}

/** A restart `timeout`: whole seconds, read like Patroni's parse_int(value, 's'). */
export function parseSeconds(value: unknown): number | undefined {
  return parseUnitInt(value, 's');
}
