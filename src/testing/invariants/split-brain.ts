/**
 * The split-brain invariant: no two nodes acknowledge client writes in overlapping windows while
 * both their agents could act. Windows in which one agent could not act (dead, frozen, just
 * woken, paused) are what only fencing prevents: they are measured and reported, not failed.
 */
import type { SimulatedCluster } from '../cluster/index.ts';
import type { Invariant } from './types.ts';
import { actsOnItsPrimary } from './writers.ts';

/** Client writes one node acknowledged on one timeline of its data directory. */
interface WriteEra {
  node: string;
  timeline: number | null;
  first: number;
  last: number;
  /** When each write was acknowledged, and whether the node's agent could act then. */
  acks: Array<{ at: number; acting: boolean }>;
}

/** Two nodes acknowledged writes at once while one of them had no agent able to act (or was paused). */
export interface UnfencedWindow {
  /** The node whose agent was dead, frozen or just woken (it could not demote its primary). */
  node: string;
  other: string;
  from: number;
  to: number;
}

interface SplitState {
  next: number;
  eras: Map<string, WriteEra>;
  unfenced: Map<string, UnfencedWindow>;
}
const splitStates = new WeakMap<SimulatedCluster, SplitState>();

function splitState(cluster: SimulatedCluster): SplitState {
  let st = splitStates.get(cluster);
  if (!st) {
    st = { next: 0, eras: new Map(), unfenced: new Map() };
    splitStates.set(cluster, st);
  }
  return st;
}

/**
 * Windows in which two nodes acknowledged client writes while one of them had no agent that
 * could act (see actsOnItsPrimary): what only
 * fencing (a watchdog) prevents. Reported, not failed (see noSplitBrainWrites).
 */
export function unfencedWindows(cluster: SimulatedCluster): UnfencedWindow[] {
  return [...splitState(cluster).unfenced.values()];
}

/** Maximal runs of consecutive acknowledgements made while the agent could act: [first, last]. */
function actingRuns(e: WriteEra): Array<[number, number]> {
  const runs: Array<[number, number]> = [];
  let open: [number, number] | null = null;
  for (const a of e.acks) {
    if (!a.acting) {
      open = null;
      continue;
    }
    if (open) open[1] = a.at;
    else {
      open = [a.at, a.at];
      runs.push(open);
    }
  }
  return runs;
}

/** The first overlap of a run of `a` with a run of `b`, or null. */
function overlappingRuns(a: Array<[number, number]>, b: Array<[number, number]>): [number, number] | null {
  for (const x of a)
    for (const y of b) {
      const from = Math.max(x[0], y[0]);
      const to = Math.min(x[1], y[1]);
      if (from <= to) return [from, to];
    }
  return null;
}

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/**
 * (10) No split brain: no two nodes acknowledge client writes in overlapping windows. For every
 * node and timeline of its data, the window runs from the first write it acknowledged to the
 * last; two windows of different nodes that overlap mean both accepted writes at once — commits
 * on two histories, one of which is thrown away. It counts every acknowledged write of every
 * client: through `/leader`, and the clients that write to any node accepting writes (a libpq
 * multi-host string, a stale address), which keep writing to a deposed primary as long as it
 * lets them. It fails only where both acknowledged while both agents could act (a run of one
 * node's acknowledgements made while its agent could act overlaps such a run of the other's);
 * an agent cannot act (actsOnItsPrimary) while dead, frozen, thawed a moment ago, started and
 * not yet answered by the DCS (up to retry_timeout), or paused: a frozen or killed agent cannot
 * demote its primary, only fencing (a watchdog) could; Patroni's pause leaves PostgreSQL alone.
 * Those windows are reported (unfencedWindows) with their length. With synchronous_mode such writes are never
 * acknowledged, or no-lost-acknowledged-writes fails. In asynchronous mode a failover may lose the
 * last acknowledged writes (Patroni's semantics, bounded by maximum_lag_on_failover), but never
 * while the old primary still acknowledges new ones.
 */
export const noSplitBrainWrites: Invariant = {
  name: 'no-split-brain-writes',
  check({ cluster }) {
    const st = splitState(cluster);
    const acked = cluster.world.acknowledged;
    const now = cluster.now();
    for (; st.next < acked.length; st.next++) {
      const w = acked[st.next]!;
      const n = cluster.node(w.node);
      // The same rule as single-writable-node: dead, frozen, just thawed or started, or paused
      // (Patroni's pause leaves PostgreSQL alone by request) — an agent that cannot act.
      const acting = actsOnItsPrimary(n, now);
      const at = w.ackedAt ?? now;
      const key = `${w.node}/${w.sysid}/${w.segment}`;
      let era = st.eras.get(key);
      if (!era) {
        era = { node: w.node, timeline: w.timeline, first: at, last: at, acks: [] };
        st.eras.set(key, era);
      }
      era.last = Math.max(era.last, at);
      era.acks.push({ at, acting });
      for (const [otherKey, other] of st.eras) {
        if (other.node === era.node) continue;
        const from = Math.max(era.first, other.first);
        const to = Math.min(era.last, other.last);
        if (from > to) continue;
        // Both at once with both agents able to act: a run of acting acknowledgements of one
        // overlaps a run of the other's. Elsewhere in the overlap one of them could not act.
        const clash = overlappingRuns(actingRuns(era), actingRuns(other));
        if (clash === null) {
          const during = (e: WriteEra) => e.acks.filter((a) => a.at >= from && a.at <= to);
          const idle = [era, other].find((e) => during(e).every((a) => !a.acting)) ?? era;
          const pair = [key, otherKey].sort().join(' ');
          const seen = st.unfenced.get(pair);
          st.unfenced.set(pair, {
            node: idle.node,
            other: idle === era ? other.node : era.node,
            from: Math.min(from, seen?.from ?? from),
            to: Math.max(to, seen?.to ?? to),
          });
          continue;
        }
        const span = (e: WriteEra) =>
          `${e.node} (timeline ${e.timeline}) acknowledged writes from ${secs(e.first)} to ${secs(e.last)}`;
        const [older, newer] = other.first <= era.first ? [other, era] : [era, other];
        return `split brain: ${span(older)} and ${span(newer)}: both accepted writes between ${secs(clash[0])} and ${secs(clash[1])} while both agents ran (neither dead, frozen, just woken nor paused)`;
      }
    }
    return null;
  },
};
