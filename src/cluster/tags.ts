/**
 * A member's tags as every node reads them from its member key or status (Patroni 3.2+'s
 * Tags): `nofailover` when it is given, else a `failover_priority` of 0 or less; the priority
 * itself 0 for a nofailover member, else the one given, 1 by default.
 */

type Tags = Record<string, unknown> | undefined;

/** A tag's boolean as Patroni's parse_bool reads it (true, "on", "yes", 1, …); undefined: not a boolean. */
function tagBool(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') {
    if (/^(true|yes|on|1)$/i.test(v.trim())) return true;
    if (/^(false|no|off|0)$/i.test(v.trim())) return false;
  }
  return undefined;
}

function priorityTag(tags: Tags): number | undefined {
  const v = tags?.['failover_priority'];
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : Number.NaN;
  return Number.isInteger(n) ? n : undefined;
}

/** The member may not be promoted. */
export function nofailoverOf(tags: Tags): boolean {
  const given = tagBool(tags?.['nofailover']);
  if (given !== undefined) return given;
  const priority = priorityTag(tags);
  return priority !== undefined && priority <= 0;
}

/** Its preference in the leader race among members equally far along (higher wins). */
export function failoverPriorityOf(tags: Tags): number {
  return tagBool(tags?.['nofailover']) ? 0 : (priorityTag(tags) ?? 1);
}

/** Its WAL is not streamed: it replays from the archive only (Patroni 3.3's nostream). */
export function nostreamOf(tags: Tags): boolean {
  return tagBool(tags?.['nostream']) ?? false;
}
