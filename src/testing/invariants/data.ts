/**
 * Invariants on the data itself: no acknowledged write lost (synchronous mode), no data
 * directory removed unless configured or asked, and no replica stopped for a pg_rewind it does
 * not need. These are the losses an operator would notice first.
 */
import type { SimulatedCluster } from '../cluster/index.ts';
import type { Invariant } from './types.ts';

/** (2) With synchronous_mode on, no acknowledged write is missing from the leader's WAL. */
export const noLostAcknowledgedWrites: Invariant = {
  name: 'no-lost-acknowledged-writes',
  check({ cluster, synchronousMode, givenUp }) {
    if (!synchronousMode) return null;
    const lost = cluster.lostWrites().filter((c) => !givenUp?.has(c));
    if (lost.length === 0) return null;
    return `${lost.length} acknowledged write(s) missing from leader ${cluster.leader()}: ${lost
      .slice(0, 3)
      .map((c) => `lsn ${c.lsn} tl ${c.timeline}`)
      .join(', ')}`;
  },
};

const removalsSeen = new WeakMap<SimulatedCluster, { next: number; used: Set<object> }>();

/**
 * (9) No data directory removed unless configured or asked: an agent removing its data directory
 * while it holds a cluster (a wipe before a new clone) needs `remove_data_directory_on_rewind_failure` or
 * `remove_data_directory_on_diverged_timelines` in that node's configuration, or a POST
 * /reinitialize to that node sent before it and not refused (each request allows one removal).
 * A failed rewind or `use_pg_rewind: false` once re-cloned the old primary whatever the
 * configuration said; Patroni keeps the data unless told otherwise.
 */
export const noUnaskedDataRemoval: Invariant = {
  name: 'no-unasked-data-removal',
  check({ cluster }) {
    let seen = removalsSeen.get(cluster);
    if (!seen) {
      seen = { next: 0, used: new Set() };
      removalsSeen.set(cluster, seen);
    }
    const removals = cluster.dataRemovals;
    for (; seen.next < removals.length; seen.next++) {
      const r = removals[seen.next]!;
      const pg = cluster.node(r.node).config.postgresql;
      if (pg.remove_data_directory_on_rewind_failure || pg.remove_data_directory_on_diverged_timelines)
        continue;
      const asked = cluster.reinitializeRequests.find(
        (q) =>
          q.node === r.node && q.at <= r.at && !seen.used.has(q) && (q.status === null || q.status === 200),
      );
      if (asked) {
        seen.used.add(asked);
        continue;
      }
      return `${r.node}'s data directory (timeline ${r.timeline}, lsn ${r.lsn}) was removed at ${(r.at / 1000).toFixed(1)} s with neither remove_data_directory_on_rewind_failure nor remove_data_directory_on_diverged_timelines set and no POST /reinitialize`;
    }
    return null;
  },
};

/**
 * (11) No replica is stopped for a pg_rewind it does not need: a stopped standby on the source's
 * own timeline, not ahead of it ("source and target cluster are on the same timeline"), that has
 * not run as a primary since it was cloned or rewound. (An old primary is rewound on principle
 * once its leader has recorded its promotion, and pg_rewind says whether anything was to be
 * done: a restart's cost, not a wrong judgement.) Seen on real processes: a replica that lost its stream
 * reported pg_control's lagging timeline, looked diverged, and was stopped and rewound against a
 * leader on its own timeline every 2 s for as long as the leader refused connections.
 */
export const noNeedlessRewind: Invariant = {
  name: 'no-needless-rewind',
  check({ cluster }) {
    const r = cluster.world.rewinds.find((x) => x.needless);
    if (!r) return null;
    return `${r.node} was stopped and pg_rewind run at ${(r.at / 1000).toFixed(1)} s against a source on its own timeline, not behind it`;
  },
};
