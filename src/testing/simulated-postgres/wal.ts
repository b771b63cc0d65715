/**
 * The model of WAL, as plain data and pure rules over it, so that streaming, pg_basebackup and
 * pg_rewind agree on what "the same WAL" means. A data directory holds a chain of timeline
 * segments (each with a number, a world-unique id and, except the last, the LSN where it
 * ended) and the position reached on the last one. Two servers share WAL up to a position
 * exactly when the segment holding that position has the same id in both chains (two
 * independent promotions from timeline 1 both make a timeline 2, as in PostgreSQL, but
 * different ones).
 */
import { type DataDirState, uninitializedDataDir } from '../../actors/postgres.ts';
import type { FenceTarget } from '../../cluster/orphans.ts';

/** One timeline of a data directory's WAL: number, world-unique id, and where it ended. */
export interface Segment {
  tl: number;
  id: number;
  end: number | null;
}

export interface DataDir {
  sysid: string;
  /** patroni.dynamic.json: the last /config the agent kept here. */
  dynamicCache?: Record<string, unknown>;
  segments: Segment[];
  /** Primary: pg_current_wal_lsn; standby: the last received (flushed) position. */
  lsn: number;
  clusterState: string;
  checkpointLsn: number;
  slots: Set<string>;
  /**
   * Ran as a primary, or was about to (a promotion began, its agent held the lock), since it was
   * cloned or rewound: its WAL may have forked, and its agent treats it as an old primary's.
   */
  mayHaveForked?: boolean;
  /**
   * Fenced by a new leader (postgresql.auto.conf and its marker, not WAL): no client commits
   * while it runs; pgwarden lifts it at the next start.
   */
  fenced?: boolean;
  /** The address book pgwarden keeps here (pgwarden.servers.json). */
  knownServers?: FenceTarget[];
}

export const FIRST_LSN = 0x3000028;
export const CHECKPOINT_RECORD = 0x68;
export const END_OF_RECOVERY_RECORD = 0x28;

/** Are `mine` exactly the copies stream() makes of `up` up to index i (i open, end null)? */
export function copiesOf(mine: readonly Segment[], up: readonly Segment[], i: number): boolean {
  if (mine.length !== i + 1) return false;
  for (let k = 0; k <= i; k++) {
    const a = mine[k]!;
    const b = up[k]!;
    if (a.tl !== b.tl || a.id !== b.id || a.end !== (k === i ? null : b.end)) return false;
  }
  return true;
}

/**
 * A copy of `segments` up to index i (all of them by default), the last one open (end null):
 * what streaming, pg_basebackup and pg_rewind leave a standby with.
 */
export function openCopy(segments: readonly Segment[], i = segments.length - 1): Segment[] {
  return segments.slice(0, i + 1).map((s, k) => ({ ...s, end: k === i ? null : s.end }));
}

/** The timeline history file's lines: every closed segment, where it ended. */
export function historyLines(d: DataDir | null): Array<[number, number, string]> {
  const segs = d?.segments ?? [];
  return segs.slice(0, -1).map((s) => [s.tl, s.end!, 'no recovery target specified']);
}

/** Index of the last segment both chains share (-1: none): where pg_rewind's histories part. */
export function lastCommonSegment(mine: readonly Segment[], theirs: readonly Segment[]): number {
  let common = -1;
  while (
    common + 1 < mine.length &&
    common + 1 < theirs.length &&
    mine[common + 1]!.id === theirs[common + 1]!.id
  ) {
    common++;
  }
  return common;
}

/** What pg_controldata says of a data directory (uninitialized when there is none). */
export function controlData(d: DataDir | null): DataDirState {
  if (!d) return uninitializedDataDir();
  return {
    initialized: true,
    systemIdentifier: d.sysid,
    clusterState: d.clusterState,
    timeline: d.segments.at(-1)!.tl,
    checkpointLsn: d.checkpointLsn,
  };
}
