/** pg_controldata output (run with LC_ALL=C, so the labels are the English ones). */
import { parseLsn } from '../../cluster/lsn.ts';
import type { DataDirState } from '../postgres.ts';

export function parseControlData(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    out.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  return out;
}

export function dataDirStateFromControlData(text: string): DataDirState {
  const fields = parseControlData(text);
  const tli = fields.get("Latest checkpoint's TimeLineID");
  const lsn = fields.get('Latest checkpoint location');
  return {
    initialized: true,
    systemIdentifier: fields.get('Database system identifier') ?? null,
    clusterState: fields.get('Database cluster state') ?? null,
    timeline: tli !== undefined && /^\d+$/.test(tli) ? Number(tli) : null,
    checkpointLsn: lsn !== undefined ? parseLsn(lsn) : null,
  };
}

/** States from which pg_rewind (and a clean restart) may proceed without crash recovery. */
export function isCleanShutdown(state: string | null): boolean {
  return state === 'shut down' || state === 'shut down in recovery';
}
