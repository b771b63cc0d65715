/**
 * Which states and which transitions of the machines (node, election, scheduled action) a set
 * of simulated runs visited and took. The full sets come from the machine definitions
 * themselves, so a state or transition added to a machine shows up as unvisited / not taken
 * until some schedule or targeted scenario reaches it.
 *
 * A transition is identified by where it starts, what triggers it and where it goes:
 * `election.leader.holding.idle --SETTINGS#0--> election.leader.holding.refreshing`. Guarded alternatives for the same
 * trigger are different transitions (`#0`, `#1`, ... in document order; no index when there is
 * only one). Triggers are the event type, `always`, `after(<delay>)`, `done(<src>)` /
 * `error(<src>)` of an invoked actor. Taken transitions come from XState's `@xstate.microstep`
 * inspection events, which carry the transition definitions each microstep selected.
 *
 * Results are plain data (`toJSON()` → CoverageData) so that runs in worker threads can be
 * merged by the parent (`merge`).
 */
import type { AnyStateMachine, InspectionEvent } from 'xstate';
import { activeStateIds } from '../machines/definition.ts';
import { allMachines } from '../machines/index.ts';

export { activeStateIds };

interface TransitionLike {
  source: StateNodeLike;
  target?: readonly StateNodeLike[] | undefined;
  eventType: string;
  reenter?: boolean;
  /** Delayed (`after`) transitions only: the delay's name or ms. */
  delay?: string | number;
}

interface StateNodeLike {
  id: string;
  states: Record<string, StateNodeLike>;
  always?: TransitionLike[];
  transitions: Map<string, TransitionLike[]>;
  invoke: Array<{ id: string; src: unknown }>;
}

/** Every machine whose coverage is reported, in report order. */
export const coveredMachines: readonly AnyStateMachine[] = allMachines;

/**
 * States left at once by an unguarded eventless transition (`init`, `boot`, `deciding`, ...):
 * they are passed through, never at rest, so no snapshot can show them.
 */
export function transientStateIds(machine: AnyStateMachine): Set<string> {
  const out = new Set<string>();
  const walk = (n: StateNodeLike) => {
    for (const child of Object.values(n.states)) {
      if (child.always?.some((t) => (t as { guard?: unknown }).guard === undefined)) out.add(child.id);
      walk(child);
    }
  };
  walk(machine.root as unknown as StateNodeLike);
  return out;
}

/** Every state node id of a machine (`node.active.running.primary`, ...), the root excluded. */
export function allStateIds(machine: AnyStateMachine): string[] {
  const out: string[] = [];
  const walk = (n: StateNodeLike) => {
    for (const child of Object.values(n.states)) {
      out.push(child.id);
      walk(child);
    }
  };
  walk(machine.root as unknown as StateNodeLike);
  return out.sort();
}

/** What triggers a transition, readably: `CLUSTER`, `always`, `after(loopWait)`, `done(promote)`. */
function triggerLabel(t: TransitionLike): string {
  const e = t.eventType;
  if (e === '') return 'always';
  if (t.delay !== undefined || e.startsWith('xstate.after.')) return `after(${t.delay ?? e})`;
  const actor = /^xstate\.(done|error)\.actor\.(.*)$/.exec(e);
  if (actor) {
    // The invoked logic's name (`promote`); inline logic has none: its place in the state.
    const i = t.source.invoke.findIndex((x) => x.id === actor[2]);
    const src = t.source.invoke[i]?.src;
    return `${actor[1]}(${typeof src === 'string' && !src.startsWith('xstate.') ? src : `invoke#${i}`})`;
  }
  const snapshot = /^xstate\.snapshot\.(.*)$/.exec(e);
  if (snapshot) return `snapshot(${snapshot[1]})`;
  if (e.startsWith('xstate.done.state.')) return 'done';
  return e;
}

const idCache = new WeakMap<object, string>();

/**
 * The stable id of a transition definition (of any machine built from the same config, e.g.
 * after `.provide()`): `source --trigger[#index]--> targets`.
 */
export function transitionId(t: TransitionLike): string {
  const cached = idCache.get(t);
  if (cached !== undefined) return cached;
  const siblings =
    t.eventType === '' ? (t.source.always ?? []) : (t.source.transitions.get(t.eventType) ?? []);
  const index = siblings.length > 1 ? `#${siblings.indexOf(t)}` : '';
  const targets = t.target && t.target.length > 0 ? t.target.map((s) => s.id).join(',') : '(no target)';
  const id = `${t.source.id} --${triggerLabel(t)}${index}--> ${targets}${t.reenter ? ' (reenter)' : ''}`;
  idCache.set(t, id);
  return id;
}

/** Every transition of a machine's definition (root included), by id, sorted. */
export function allTransitionIds(machine: AnyStateMachine): string[] {
  const out: string[] = [];
  const walk = (n: StateNodeLike) => {
    for (const list of n.transitions.values()) for (const t of list) out.push(transitionId(t));
    for (const t of n.always ?? []) out.push(transitionId(t));
    for (const child of Object.values(n.states)) walk(child);
  };
  walk(machine.root as unknown as StateNodeLike);
  return out.sort();
}

export interface MachineCoverage {
  machine: string;
  /** States that can be at rest (transient ones excluded). */
  total: number;
  visited: number;
  unvisited: string[];
  transient: number;
  transitions: {
    /** Every transition of the definition. */
    total: number;
    taken: number;
    untaken: string[];
  };
}

/** Coverage as plain, structured-cloneable data: what each machine visited and took. */
export interface CoverageData {
  machines: Record<string, { states: string[]; transitions: string[] }>;
}

interface Seen {
  states: Set<string>;
  transitions: Set<string>;
}

export class StateCoverage {
  private readonly ids: Set<string>;
  private readonly seen = new Map<string, Seen>();

  /** `machines`: whose states and transitions count (default: every machine in src/machines). */
  constructor(private readonly machines: readonly AnyStateMachine[] = coveredMachines) {
    this.ids = new Set(machines.map((m) => m.id));
  }

  private seenOf(id: string): Seen {
    let s = this.seen.get(id);
    if (!s) {
      s = { states: new Set(), transitions: new Set() };
      this.seen.set(id, s);
    }
    return s;
  }

  /** An XState inspector: pass it to every actor whose states and transitions should count. */
  readonly inspect = (ev: InspectionEvent): void => {
    if (ev.type === '@xstate.microstep') {
      if (ev._transitions.length === 0) return;
      const id = (ev.actorRef as unknown as { logic?: { id?: string } }).logic?.id;
      if (!id || !this.ids.has(id)) return;
      const set = this.seenOf(id).transitions;
      for (const t of ev._transitions) set.add(transitionId(t as unknown as TransitionLike));
      return;
    }
    if (ev.type !== '@xstate.snapshot') return;
    const id = (ev.actorRef as unknown as { logic?: { id?: string } }).logic?.id;
    if (!id || !this.ids.has(id)) return;
    const set = this.seenOf(id).states;
    for (const s of activeStateIds(id, (ev.snapshot as { value?: unknown }).value)) set.add(s);
  };

  /** What was visited and taken so far, as plain data (e.g. to post from a worker thread). */
  toJSON(): CoverageData {
    const machines: CoverageData['machines'] = {};
    for (const [id, s] of this.seen) {
      machines[id] = { states: [...s.states].sort(), transitions: [...s.transitions].sort() };
    }
    return { machines };
  }

  /** Add what another coverage (e.g. a worker's toJSON()) visited and took. */
  merge(data: CoverageData): void {
    for (const [id, m] of Object.entries(data.machines)) {
      const s = this.seenOf(id);
      for (const x of m.states) s.states.add(x);
      for (const x of m.transitions) s.transitions.add(x);
    }
  }

  report(): MachineCoverage[] {
    return this.machines.map((m) => {
      const transient = transientStateIds(m);
      const all = allStateIds(m).filter((s) => !transient.has(s));
      const seen = this.seen.get(m.id) ?? { states: new Set<string>(), transitions: new Set<string>() };
      const unvisited = all.filter((s) => !seen.states.has(s));
      const transitions = allTransitionIds(m);
      const untaken = transitions.filter((t) => !seen.transitions.has(t));
      return {
        machine: m.id,
        total: all.length,
        visited: all.length - unvisited.length,
        unvisited,
        transient: transient.size,
        transitions: { total: transitions.length, taken: transitions.length - untaken.length, untaken },
      };
    });
  }
}

export interface FormatCoverageOptions {
  /** Also list every transition not taken, grouped by source state (long). */
  verbose?: boolean;
  /**
   * Why some states and transitions are left unreached (src/testing/coverage-notes.ts): those
   * count as explained; without `verbose` only the unexplained ones are listed.
   */
  notes?: Readonly<Record<string, string>>;
}

/** What a report leaves unreached and unexplained by `notes`. */
export function unexplained(
  report: MachineCoverage[],
  notes: Readonly<Record<string, string>>,
): { states: string[]; transitions: string[] } {
  return {
    states: report.flatMap((r) => r.unvisited.filter((s) => !(s in notes))),
    transitions: report.flatMap((r) => r.transitions.untaken.filter((t) => !(t in notes))),
  };
}

/**
 * Per machine `node: states 26/49, transitions 120/210`, then the states not visited and the
 * transitions not taken — all of them with `verbose`, otherwise those no note explains.
 */
export function formatCoverage(report: MachineCoverage[], opts: FormatCoverageOptions = {}): string {
  const notes = opts.notes ?? {};
  const lines: string[] = [];
  for (const r of report) {
    const explained = [...r.unvisited, ...r.transitions.untaken].filter((id) => id in notes).length;
    lines.push(
      `${r.machine}: states ${r.visited}/${r.total}, transitions ${r.transitions.taken}/${r.transitions.total}` +
        (opts.notes ? `, ${explained} unreached explained` : '') +
        ` (${r.transient} transient states not counted)`,
    );
    const show = (id: string) => opts.verbose || !(id in notes);
    const states = r.unvisited.filter(show);
    if (states.length > 0) lines.push(`  states not visited: ${states.join(', ')}`);
    const untaken = r.transitions.untaken.filter(
      (t) => opts.verbose || (opts.notes !== undefined && show(t)),
    );
    if (untaken.length > 0) {
      lines.push(opts.verbose ? '  transitions not taken:' : '  transitions not taken and not explained:');
      const bySource = new Map<string, string[]>();
      for (const t of untaken) {
        const [source, rest] = t.split(' --', 2) as [string, string];
        const list = bySource.get(source) ?? [];
        list.push(`--${rest}${opts.verbose && notes[t] ? `  [${notes[t]}]` : ''}`);
        bySource.set(source, list);
      }
      for (const [source, list] of bySource) {
        lines.push(`    ${source}`);
        for (const t of list) lines.push(`      ${t}`);
      }
    }
  }
  return lines.join('\n');
}
