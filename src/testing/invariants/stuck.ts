/**
 * The "no machine stuck" invariant: every machine of a running agent either rests by design or
 * has something of its own to move it (a timer within bounds, an operation within its timeout).
 * Its bookkeeping (StuckWatch) and bounds (stuckBounds) are exported for the unit tests that
 * prove it catches a missing `after`, a hung promise or a runaway delay.
 */
import type { AnyActorRef } from 'xstate';
import type { Agent } from '../../agent.ts';
import type { SimulatedCluster } from '../cluster/index.ts';
import type { Invariant } from './types.ts';

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
