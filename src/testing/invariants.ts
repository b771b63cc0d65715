/**
 * Invariants the seeded runner (runner.ts) checks while a fault schedule plays on a simulated
 * cluster. Each check answers null (holds) or a description of what it saw.
 */
import type { AnyActorRef } from 'xstate';
import type { Agent } from '../agent.ts';
import type { LeadershipCauses } from './causes.ts';
import type { SimulatedCluster } from './cluster/index.ts';
import { MAX_DRIFT_PPM } from './schedule.ts';
import type { Commit } from './simulated-postgres/index.ts';

export interface InvariantContext {
  cluster: SimulatedCluster;
  /** The schedule step being played (0-based; the heal phase is `steps`). */
  step: number;
  synchronousMode: boolean;
  /**
   * Writes an operator gave up: a manual failover to a member /sync does not name may lose
   * those acknowledged or in flight until it is answered (as in Patroni, the operator's call).
   */
  givenUp?: ReadonlySet<Commit>;
  /** What may move leadership so far (faults and requests played); absent: not checked. */
  causes?: LeadershipCauses;
}

export interface Invariant {
  name: string;
  /** null when the invariant holds, else what was seen. */
  check(ctx: InvariantContext): string | null;
}

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

/** How long a machine may wait, and for what, before it counts as stuck (all virtual ms). */
export interface StuckBounds {
  /** Nothing pending for this long in the same state: stuck (absorbs any in-flight hop). */
  graceMs: number;
  /** Longest timer a non-resting state may arm. */
  timerMs: number;
  /** Longest an invoked operation may run, given its input (e.g. `{ timeoutSeconds }`). */
  operationMs: (input: unknown) => number;
}

interface PendingTimer {
  source: unknown;
  delay: number;
  event: { type: string };
}

/**
 * Per-actor bookkeeping for "no machine stuck" across checks. `now` is the actor's own running
 * time: a caller that freezes actors (SIGSTOP in the simulator) passes a time that stood still
 * meanwhile, since a frozen process's timers and I/O wait too.
 */
export class StuckWatch {
  private readonly idle = new WeakMap<AnyActorRef, { key: string; since: number }>();
  private readonly started = new WeakMap<AnyActorRef, number>();

  /**
   * null when the actor is at rest legitimately or something will move it soon; otherwise what
   * is stuck. A state tagged `resting` waits for outside events by design (see the machines);
   * any other state must have a timer of its own armed (`after`) no longer than `timerMs`, or
   * an operation invoked by its atomic state running for no longer than `operationMs`.
   */
  check(actor: AnyActorRef, name: string, now: number, bounds: StuckBounds): string | null {
    const snap = actor.getSnapshot() as {
      status: string;
      error?: unknown;
      value: unknown;
      children: Record<string, AnyActorRef | undefined>;
      hasTag(tag: string): boolean;
      _nodes: Array<{ type: string; invoke: Array<{ id: string; src: unknown }> }>;
    };
    if (snap.status === 'error') return `${name} machine failed: ${String(snap.error)}`;
    if (snap.status !== 'active' || snap.hasTag('resting')) {
      this.idle.delete(actor);
      return null;
    }
    let moving = false;
    // XState keeps pending delayed events in the actor system's scheduler; getSnapshot() would
    // copy them on every check.
    const events = (
      actor.system as unknown as { _snapshot: { _scheduledEvents: Record<string, PendingTimer> } }
    )._snapshot._scheduledEvents;
    for (const id in events) {
      const e = events[id]!;
      if (e.source !== actor) continue;
      if (!(e.delay <= bounds.timerMs)) {
        return `${name} in ${stateText(snap.value)} armed a ${e.delay} ms timer (${e.event.type}); a state that is not resting may wait at most ${bounds.timerMs} ms`;
      }
      moving = true;
    }
    // Only what the atomic states invoked: the node machine's `active` invokes the election for
    // as long as it runs, and that alone moves nothing.
    for (const n of snap._nodes) {
      if (n.type !== 'atomic') continue;
      for (const inv of n.invoke) {
        const child = snap.children[inv.id];
        const childSnap = child?.getSnapshot() as { status: string; input?: unknown } | undefined;
        if (!child || childSnap?.status !== 'active') continue;
        const since = this.started.get(child) ?? now;
        this.started.set(child, since);
        const limit = bounds.operationMs(childSnap.input);
        if (now - since > limit) {
          return `${name} in ${stateText(snap.value)}: ${String(inv.src)} has been running for ${((now - since) / 1000).toFixed(1)} s (bound ${(limit / 1000).toFixed(0)} s): a wait without a timeout`;
        }
        moving = true;
      }
    }
    if (moving) {
      this.idle.delete(actor);
      return null;
    }
    const key = JSON.stringify(snap.value);
    const idle = this.idle.get(actor);
    if (!idle || idle.key !== key) {
      this.idle.set(actor, { key, since: now });
      return null;
    }
    if (now - idle.since < bounds.graceMs) return null;
    return `${name} stuck in ${stateText(snap.value)} for ${((now - idle.since) / 1000).toFixed(1)} s: not a resting state, and no timer armed and no operation running`;
  }
}

function stateText(value: unknown): string {
  if (typeof value === 'string') return value;
  return Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => `${k}.${stateText(v)}`)
    .join(',');
}

/** The machine actors of one agent: the node machine, its election, the two schedulers. */
export function agentMachines(agent: Agent): Array<[string, AnyActorRef]> {
  const out: Array<[string, AnyActorRef]> = [['node', agent.actor]];
  const election = agent.actor.getSnapshot().children['election'] as AnyActorRef | undefined;
  if (election) out.push(['election', election]);
  out.push(['restart scheduler', agent.scheduler('restart')]);
  out.push(['switchover scheduler', agent.scheduler('switchover')]);
  return out;
}

const boundsBySettings = new WeakMap<object, StuckBounds>();
/** The longest ttl and loop_wait each agent has run with: a timer armed before a PATCH lowered them is still bounded by them. */
const longestSettings = new WeakMap<Agent, { ttl: number; loop_wait: number }>();

/** The bounds for one agent, from its settings (the longest timings it has had). */
export function stuckBounds(agent: Agent): StuckBounds {
  const current = agent.actor.getSnapshot().context.settings;
  const longest = longestSettings.get(agent);
  const s =
    longest && (longest.ttl > current.ttl || longest.loop_wait > current.loop_wait)
      ? {
          ...current,
          ttl: Math.max(longest.ttl, current.ttl),
          loop_wait: Math.max(longest.loop_wait, current.loop_wait),
        }
      : current;
  longestSettings.set(agent, { ttl: s.ttl, loop_wait: s.loop_wait });
  const cached = boundsBySettings.get(s);
  if (cached) return cached;
  // Every `after` of a non-resting state is at most a ttl (lease deadline, refresh interval,
  // standing back) or a loop_wait; twice that leaves room for a settings change meanwhile and
  // still catches a runaway delay (a unit mistake, NaN, Infinity).
  const timerMs = 2 * Math.max(s.ttl, s.loop_wait) * 1000;
  // Operations are bounded by their own timeout (pg_ctl_timeout, primary_start_timeout, given
  // as input), or by a few DCS round trips of retry_timeout; a minute more for simulated
  // durations and `slow` faults (at most 30 s).
  const base = Math.max(s.pg_ctl_timeout, 4 * s.retry_timeout, s.ttl);
  const bounds: StuckBounds = {
    graceMs: 1000,
    timerMs,
    operationMs: (input) => {
      const t = (input as { timeoutSeconds?: unknown } | undefined)?.timeoutSeconds;
      return (Math.max(base, typeof t === 'number' ? t : 0) + 60) * 1000;
    },
  };
  boundsBySettings.set(s, bounds);
  return bounds;
}

interface StuckState {
  watch: StuckWatch;
  last: number;
  /** Virtual ms each agent has run unfrozen (its machines' own time). */
  running: WeakMap<Agent, number>;
}
const stuckStates = new WeakMap<SimulatedCluster, StuckState>();
const STUCK_CHECK_EVERY_MS = 500;

/**
 * (4) No machine stuck: every machine of every live, unfrozen agent (node, election, both
 * schedulers) is either in a state tagged `resting` (it waits for outside events by design:
 * a replica or primary at rest, the election's follower, nothing scheduled), or will be moved
 * by something of its own: a timer no longer than a lease, or an operation that has not run
 * past its timeout. Catches a state that waits for an event nobody sends (a missing `after`), a
 * promise actor with no timeout (a hung pg_ctl or DCS call), a timer with a runaway delay, and
 * a machine that failed. Frozen time does not count: a SIGSTOPped agent's timers wait too.
 */
export const noStuckMachine: Invariant = {
  name: 'no-stuck-machine',
  check({ cluster }) {
    const now = cluster.now();
    let st = stuckStates.get(cluster);
    if (!st) {
      st = { watch: new StuckWatch(), last: now, running: new WeakMap() };
      stuckStates.set(cluster, st);
    }
    // Everything it looks for lasts (a second at least), so every 500 ms is often enough.
    if (now - st.last < STUCK_CHECK_EVERY_MS && now !== st.last) return null;
    const dt = now - st.last;
    st.last = now;
    for (const n of cluster.nodes) {
      const agent = n.agent;
      if (!agent || !n.alive() || n.frozen()) continue;
      const running = (st.running.get(agent) ?? 0) + dt;
      st.running.set(agent, running);
      const bounds = stuckBounds(agent);
      for (const [name, actor] of agentMachines(agent)) {
        const stuck = st.watch.check(actor, name, running, bounds);
        if (stuck !== null) return `${n.name}: ${stuck}`;
      }
    }
    return null;
  },
};

const dueSeen = new WeakMap<SimulatedCluster, { next: number; restarts: Set<string> }>();

/**
 * (5) Nothing scheduled runs before its time, or twice: every scheduler that says its action is
 * due says so at or after the time it was scheduled for, by the node's own clock (the one its
 * timers run on), and a node's scheduled restart comes due once. Catches a timer that fires
 * early — Node fires a delay past 2^31 − 1 ms after 1 ms, so a switchover scheduled a month
 * ahead ran at once.
 */
export const nothingScheduledEarly: Invariant = {
  name: 'nothing-scheduled-early',
  check({ cluster }) {
    let seen = dueSeen.get(cluster);
    if (!seen) {
      seen = { next: 0, restarts: new Set() };
      dueSeen.set(cluster, seen);
    }
    const all = cluster.scheduledDue;
    for (; seen.next < all.length; seen.next++) {
      const d = all[seen.next]!;
      // A timer runs on the monotonic clock; the node's wall clock may drift apart from it while
      // it waits (a drift change mid-wait, as NTP slewing): early by at most the drift over the
      // wait, which is shorter than the run so far. And 1 ms of floating point.
      const slack = 1 + (MAX_DRIFT_PPM / 1_000_000) * cluster.now();
      if (d.localNow < d.atMs - slack) {
        return `${d.node}: scheduled ${d.scheduler} ${d.id} came due at ${new Date(d.localNow).toISOString()}, ${((d.atMs - d.localNow) / 1000).toFixed(1)} s before its time ${new Date(d.atMs).toISOString()}`;
      }
      const key = `${d.node} ${d.id}`;
      if (d.scheduler === 'restart') {
        if (seen.restarts.has(key)) return `${d.node}: scheduled restart ${d.id} came due twice`;
        seen.restarts.add(key);
      }
    }
    return null;
  },
};

const leadershipSeen = new WeakMap<
  SimulatedCluster,
  { promotions: number; events: number; leading: Map<string, boolean> }
>();

/**
 * (6) No leadership change nobody asked for: no promotion, and no node losing leadership, unless
 * a fault or an operator request that can cause one came before it (see causes.ts). A PATCH of
 * the ttl, a reload, a restart of PostgreSQL never move leadership.
 */
export const noUnaskedLeadershipChange: Invariant = {
  name: 'no-unasked-leadership-change',
  check({ cluster, causes }) {
    if (!causes) return null;
    let seen = leadershipSeen.get(cluster);
    if (!seen) {
      seen = { promotions: 0, events: 0, leading: new Map() };
      leadershipSeen.set(cluster, seen);
    }
    const promotions = cluster.world.promotions;
    for (; seen.promotions < promotions.length; seen.promotions++) {
      const p = promotions[seen.promotions]!;
      const why = causes.unexplained(p.at);
      if (why !== null) return `${p.node} was promoted to timeline ${p.timeline} ${why}`;
    }
    const events = cluster.events;
    for (; seen.events < events.length; seen.events++) {
      const e = events[seen.events]!;
      const was = seen.leading.get(e.node) ?? false;
      seen.leading.set(e.node, e.isLeader);
      if (!was || e.isLeader) continue;
      const why = causes.unexplained(e.at, e.node);
      if (why !== null) return `${e.node} stopped leading (now ${e.role}, ${e.state}) ${why}`;
    }
    return null;
  },
};

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

/** Checked at every tick of virtual time. */
export const tickInvariants: Invariant[] = [
  singleWritableLeader,
  singleWritableNode,
  noStuckMachine,
  nothingScheduledEarly,
  noUnaskedLeadershipChange,
  writableOnlyWhileLeading,
  noUnaskedDataRemoval,
  noNeedlessRewind,
  noSplitBrainWrites,
];
/** Checked after every step. */
export const stepInvariants: Invariant[] = [noLostAcknowledgedWrites];

/**
 * (7) The cluster heals: once every fault is undone and a leader runs writable, every other
 * member runs as a standby on the leader's timeline with its WAL receiver connected. null when
 * so, else who is not and why. A third node left on the old timeline, its receiver waiting, was
 * seen on real clusters after the leader's agent alone was killed.
 */
export function clusterNotHealed(cluster: SimulatedCluster): string | null {
  const leader = cluster.leader();
  if (leader === null) return 'no leader';
  const timeline = cluster.node(leader).postgres.wal()?.timeline ?? null;
  const streaming = new Set(cluster.streamingReplicas());
  const leaderSegments = new Set(cluster.node(leader).postgres.data?.segments.map((s) => s.id) ?? []);
  const behind: string[] = [];
  for (const n of cluster.nodes) {
    if (n.name === leader) continue;
    const tl = n.postgres.wal()?.timeline ?? null;
    // On a timeline that a promotion cut off from etcd created and nobody could learn of: the
    // next leader forked its own, and only a new clone (when configured, or asked) rejoins it.
    const unrecorded = n.postgres.data?.segments.some(
      (s) => cluster.unrecordedPromotions.has(s.id) && !leaderSegments.has(s.id),
    );
    if (!n.alive()) behind.push(`${n.name} agent down`);
    else if (!streaming.has(n.name) && unrecorded) continue;
    else if (!streaming.has(n.name))
      behind.push(`${n.name} not streaming (timeline ${tl}, ${n.report()?.state ?? '?'})`);
    else if (tl !== timeline) behind.push(`${n.name} on timeline ${tl}`);
  }
  return behind.length === 0 ? null : `${behind.join('; ')} (leader ${leader} on timeline ${timeline})`;
}

/** (3) After every fault heals, a leader whose PostgreSQL accepts writes. */
export function leaderAfterHeal(cluster: SimulatedCluster): boolean {
  const l = cluster.leader();
  return l !== null && cluster.node(l).postgres.writable() && cluster.primaries().length === 1;
}
