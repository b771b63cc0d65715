/** `scheduled_at` / `schedule` values as Patroni's parse_schedule judges them. */
export type ScheduleResult = { ok: true; at: Date } | { ok: false; status: number; text: string };

const TZ = /(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$/;

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
  return { ok: true, at };
}

const SECONDS: Record<string, number> = { ms: 0.001, s: 1, min: 60, h: 3600, d: 86400 };

/** A time value in seconds (number, or text with ms/s/min/h/d); undefined when it is not one. */
export function parseSeconds(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const m = /^\s*([+-]?\d+(?:\.\d+)?)\s*(ms|s|min|h|d)?\s*$/.exec(value);
  if (!m) return undefined;
  return Number(m[1]) * SECONDS[m[2] ?? 's']!;
}
