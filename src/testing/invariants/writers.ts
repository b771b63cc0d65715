/**
 * Invariants on who may accept writes: never two writable leaders, never two writable nodes
 * while both agents could act, and no writable primary without the lock for longer than a lease.
 * They share one judgement — whether a node's agent can act on its primary at all
 * (actsOnItsPrimary) — which the split-brain check applies to acknowledged writes too.
 */
import type { SimulatedCluster } from '../cluster/index.ts';
import type { Invariant } from './types.ts';

/**
 * (1) Never two nodes whose PostgreSQL accepts writes while their agents both believe they hold
 * leadership, at the same virtual time. A frozen (SIGSTOPped) agent believes nothing new, so
 * only running agents count; a dead agent reports nothing.
 */
export const singleWritableLeader: Invariant = {
  name: 'single-writable-leader',
  check({ cluster }) {
    const both = cluster.nodes.filter(
      (n) => n.alive() && !n.frozen() && n.postgres.writable() && n.report()?.isLeader === true,
    );
    if (both.length < 2) return null;
    return `${both.map((n) => n.name).join(', ')} are writable and all believe they lead (DCS leader: ${cluster.leader() ?? 'none'})`;
  },
};

const orphanWindows = new WeakMap<
  SimulatedCluster,
  { from: number | null; totalMs: number; longestMs: number }
>();

/**
 * (1b) At no instant do two nodes accept writes, whatever their agents believe — unless one of
 * them is an orphan: its agent killed (kill -9 of the agent alone) or frozen, so nothing on that
 * host can act. Those windows are measured (orphanWritable) and reported, not failed: fencing an
 * orphan needs a watchdog or a peer's help (issue 14), and in synchronous mode the lost-write
 * check still fails if they cost an acknowledged write. An agent that runs must have stopped its
 * primary before any other node is writable: one restarted on it, cut from etcd, once fenced it
 * by the YAML's ttl, 26 s after a node of the (shorter) ttl in /config had been promoted.
 */
export const singleWritableNode: Invariant = {
  name: 'single-writable-node',
  check({ cluster }) {
    const writable = cluster.nodes.filter((n) => n.postgres.writable());
    let w = orphanWindows.get(cluster);
    if (!w) {
      w = { from: null, totalMs: 0, longestMs: 0 };
      orphanWindows.set(cluster, w);
    }
    const now = cluster.now();
    if (writable.length < 2) {
      w.from = null;
      return null;
    }
    const acting = writable.filter((n) => actsOnItsPrimary(n, now));
    if (acting.length === writable.length) {
      return `${writable.map((n) => n.name).join(', ')} accept writes at once, every one with a running agent (DCS leader: ${cluster.leader() ?? 'none'})`;
    }
    if (w.from === null) w.from = now;
    w.totalMs += INVARIANT_TICK_MS;
    w.longestMs = Math.max(w.longestMs, now - w.from + INVARIANT_TICK_MS);
    return null;
  },
};

/**
 * An agent that can act on its writable primary, and so must not leave it writable beside
 * another: running, not frozen, not paused, a second past a thaw, not stopping that primary at
 * this moment, and past its start — which ends with a first look at the DCS, or after
 * retry_timeout without one (then it must have fenced its primary).
 */
export function actsOnItsPrimary(n: SimulatedCluster['nodes'][number], now: number): boolean {
  if (!n.alive() || n.frozen()) return false;
  const snapshot = n.agent?.actor.getSnapshot();
  const ctx = snapshot?.context;
  // Maintenance mode: the operator runs PostgreSQL, the agent only watches (as Patroni's pause).
  if (!snapshot || !ctx || ctx.settings.paused === true) return false;
  // Thawed (SIGCONT): its held timers fire at once, but a stop takes a moment.
  if (now - n.thawedAt < THAW_GRACE_MS) return false;
  // Stopping it right now, or trying again after a failed stop: doing the one thing it can.
  if (FENCING_STATES.some((s) => snapshot.matches(s as never))) return false;
  if (snapshot.matches('starting' as never)) return now - n.startedAt > ctx.settings.retry_timeout * 1000;
  return true;
}

/**
 * (9) An agent never gives the lock up while its PostgreSQL still accepts writes (maintenance
 * mode aside): a release lets another node promote at once, beside a primary that is still
 * writable. A shutdown whose stop of PostgreSQL failed once released the lock all the same
 * (Patroni keeps it then: "PostgreSQL shutdown failed, leader key not removed").
 */
export const noReleaseWhileWritable: Invariant = {
  name: 'no-release-while-writable',
  check({ cluster }) {
    const r = cluster.writableReleases[0];
    if (!r) return null;
    return `${r.node} released the leader lock at ${(r.at / 1000).toFixed(1)} s while its PostgreSQL still accepted writes`;
  },
};

/** Node machine states in which the agent is stopping a primary that must not accept writes. */
const FENCING_STATES = [
  { active: { running: 'demoting' } },
  { active: { running: 'demotionFailed' } },
  { starting: 'fencingPrimary' },
];

/** How long a thawed agent has to act on what it missed before it counts as acting. */
const THAW_GRACE_MS = 1000;

/** The runner checks the tick invariants every this many virtual ms (a sample stands for one tick). */
export const INVARIANT_TICK_MS = 100;

/** Windows in which an orphan primary (agent dead or frozen) was writable beside another node. */
export function orphanWritable(cluster: SimulatedCluster): { totalMs: number; longestMs: number } {
  const w = orphanWindows.get(cluster);
  return { totalMs: w?.totalMs ?? 0, longestMs: w?.longestMs ?? 0 };
}

const unconfirmedSince = new WeakMap<SimulatedCluster, Map<string, number>>();

/**
 * (8) A node whose PostgreSQL accepts writes holds the lock, or is on its way out: a running
 * agent that does not believe it leads (and is not paused) may keep its primary writable only
 * as long as the lock could still be its own — a ttl after its last keepalive — plus a loop to
 * notice and a stop (slow operations take up to 30 s). An agent restarted on its running primary
 * whose reclaim kept failing (cut from etcd) once kept it writable without bound while another
 * node was promoted. Dead or frozen agents are not counted (fencing them is a separate matter).
 */
export const writableOnlyWhileLeading: Invariant = {
  name: 'writable-only-while-leading',
  check({ cluster }) {
    let since = unconfirmedSince.get(cluster);
    if (!since) {
      since = new Map();
      unconfirmedSince.set(cluster, since);
    }
    const now = cluster.now();
    for (const n of cluster.nodes) {
      const report = n.report();
      const settings = n.agent?.actor.getSnapshot().context.settings;
      const suspect =
        n.alive() &&
        !n.frozen() &&
        n.postgres.writable() &&
        report?.isLeader !== true &&
        settings?.paused !== true;
      if (!suspect || !settings) {
        since.delete(n.name);
        continue;
      }
      const from = since.get(n.name) ?? now;
      since.set(n.name, from);
      const boundMs = (settings.ttl + settings.loop_wait) * 1000 + 35_000;
      if (now - from > boundMs) {
        return `${n.name} has accepted writes for ${((now - from) / 1000).toFixed(1)} s without holding the lock (bound ${boundMs / 1000} s; DCS leader: ${cluster.leader() ?? 'none'})`;
      }
    }
    return null;
  },
};
