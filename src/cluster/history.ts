/** /history after a promotion: the timeline history file's lines, with when and who for the newest. */
import type { HistoryLine } from './view.ts';

/** Python's datetime.isoformat() for a UTC instant: `2026-11-25T19:57:57.123000+00:00`. */
export function isoTimestamp(at: Date): string {
  const base = at.toISOString().replace(/\.\d{3}Z$/, '');
  const micros = String(at.getUTCMilliseconds() * 1000).padStart(6, '0');
  return `${base}.${micros}+00:00`;
}

export function buildHistory(
  existing: readonly HistoryLine[] | null,
  fileLines: ReadonlyArray<readonly [number, number, string]>,
  newLeader: string,
  at: Date,
): HistoryLine[] {
  const known = new Map((existing ?? []).map((l) => [`${l[0]}/${l[1]}`, l]));
  return fileLines.map(([tli, lsn, reason], i): HistoryLine => {
    const prior = known.get(`${tli}/${lsn}`);
    if (prior && prior.length >= 5) return [tli, lsn, reason, prior[3], prior[4]];
    if (i === fileLines.length - 1) return [tli, lsn, reason, isoTimestamp(at), newLeader];
    return [tli, lsn, reason];
  });
}
