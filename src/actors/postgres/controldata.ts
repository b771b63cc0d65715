/**
 * What a data directory holds, as pg_controldata says (run with LC_ALL=C, so the labels are the
 * English ones): nothing (bootstrap or clone), something that is not a usable cluster (never
 * initdb over it), or a cluster with its identity, state, timeline and last checkpoint.
 */
import { promises as fs } from 'node:fs';
import { parseLsn } from '../../cluster/lsn.ts';
import { type DataDirState, uninitializedDataDir } from '../postgres.ts';
import { type Runner, tailLines } from './run.ts';

const QUICK_MS = 30_000;

/** The state of data directory `dir`. */
export async function inspectDataDir(
  runner: Runner,
  dir: string,
  log: (msg: string) => void,
): Promise<DataDirState> {
  let entries: string[];
  try {
    entries = await fs.readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return uninitializedDataDir();
    throw err;
  }
  if (entries.length === 0) return uninitializedDataDir();
  const res = await runner.run('pg_controldata', ['-D', dir], { timeoutMs: QUICK_MS });
  if (res.code !== 0) {
    // Something is there but it is not a usable cluster: not empty, so never initdb over it.
    log(`pg_controldata failed on ${dir}: ${tailLines(res.stderr, 3)}`);
    return {
      initialized: true,
      systemIdentifier: null,
      clusterState: null,
      timeline: null,
      checkpointLsn: null,
    };
  }
  return dataDirStateFromControlData(res.stdout);
}

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
