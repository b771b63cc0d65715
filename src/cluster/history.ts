/** /history after a promotion: the timeline history file's lines, with when and who for the newest. */
import type { HistoryLine } from './view.ts';

/**
 * Python's datetime.isoformat() for a UTC instant: `2026-11-25T19:57:57.123000+00:00`, and without
 * a fraction when the microseconds are zero: `2026-11-25T19:57:57+00:00`.
 */
export function isoTimestamp(at: Date): string {
  const base = at.toISOString().replace(/\.\d{3}Z$/, '');
  const ms = at.getUTCMilliseconds();
  if (ms === 0) return `${base}+00:00`;
  return `${base}.${String(ms * 1000).padStart(6, '0')}+00:00`;
}

export function buildHistory(
  existing: readonly HistoryLine[] | null,
  fileLines: ReadonlyArray<readonly [number, number, string]>,
  newLeader: string,
  at: Date,
): HistoryLine[] {
  const known = new Map((existing ?? []).map((l) => [`${l[0]}/${l[1]}`, l]));
  return fileLines.map(([tli, lsn, reason], i): HistoryLine => {
    const last = i === fileLines.length - 1;
    const prior = known.get(`${tli}/${lsn}`);
    // Ha.update_cluster_history: a stored line with at least a timestamp (older Patroni wrote 4 fields)
    // lends its timestamp, and its name when present. The newest line always carries a leader name.
    if (prior && prior.length >= 5) return [tli, lsn, reason, prior[3], prior[4]];
    if (prior && prior.length === 4 && !last) return [tli, lsn, reason, prior[3]];
    if (last) return [tli, lsn, reason, isoTimestamp(at), newLeader];
    return [tli, lsn, reason];
  });
}

/**
 * Has WAL at `position` on `timeline` gone past the point where the cluster's history left that
 * timeline? Then it holds WAL the leader never had (a replica that received more than the new
 * leader before its promotion, an old primary's last commits): streaming cannot resume, only
 * pg_rewind (or a new clone) can. False when the history does not (yet) say where that timeline
 * ended: the replica is on the leader's timeline, or the new leader has not written /history.
 */
export function divergedFromHistory(
  history: readonly HistoryLine[] | null,
  timeline: number | null,
  position: number | null,
): boolean {
  if (!history || timeline === null || position === null) return false;
  const left = history.find((line) => line[0] === timeline);
  return left !== undefined && position > left[1];
}
