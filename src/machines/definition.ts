/**
 * A machine definition read as data: its state nodes and transitions as XState builds them, and
 * the words people read them in (`after loopWait`, `done: promote`, `not(paused)`). Shared by
 * the transition tables of docs/transitions.md and the statechart visualizer, so both name a
 * transition the same way.
 */
interface GuardLike {
  type?: string;
  name?: string;
  guards?: unknown[];
}

export interface TransitionLike {
  eventType: string;
  guard?: string | GuardLike | ((...args: unknown[]) => unknown);
  target?: readonly { id: string }[];
  reenter?: boolean;
  delay?: string | number;
  description?: string;
  actions?: readonly unknown[];
  source: { invoke: Array<{ id: string; src: unknown }> };
}

export interface StateNodeLike {
  id: string;
  key: string;
  type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
  description?: string;
  initial?: { target: readonly { id: string }[] };
  states: Record<string, StateNodeLike>;
  always?: TransitionLike[];
  transitions: Map<string, TransitionLike[]>;
  invoke: Array<{ id: string; src: unknown }>;
}

/** `not(paused)`, `lockLostAsPrimary`; an inline function has no name worth showing. */
export function guardText(g: TransitionLike['guard']): string {
  if (g === undefined) return '';
  if (typeof g === 'string') return g;
  const like = g as GuardLike;
  if (like.guards && like.name)
    return `${like.name}(${like.guards.map((x) => guardText(x as never)).join(', ')})`;
  return like.type ?? '(inline)';
}

/** What triggers a transition: the event, `always`, `after <delay>`, `done: <actor>`, `error: <actor>`, `done`. */
export function triggerText(t: TransitionLike, machineId: string): string {
  const e = t.eventType;
  if (e === '') return 'always';
  if (t.delay !== undefined || e.startsWith('xstate.after.')) {
    const delay = t.delay ?? /^xstate\.after\.([^.]+)/.exec(e)?.[1] ?? e;
    return `after ${delay}`;
  }
  const actor = /^xstate\.(done|error)\.actor\.(.*)$/.exec(e);
  if (actor) {
    const i = t.source.invoke.findIndex((x) => x.id === actor[2]);
    const src = t.source.invoke[i]?.src;
    const name = typeof src === 'string' && !src.startsWith('xstate.') ? src : `invoke #${i}`;
    return `${actor[1]}: ${name}`;
  }
  if (e.startsWith('xstate.done.state.')) return 'done';
  return e.startsWith(`${machineId}.`) ? e.slice(machineId.length + 1) : e;
}

/** Every transition a state node declares, eventless ones first, in the order XState tries them. */
export function transitionsOf(node: StateNodeLike): TransitionLike[] {
  return [...(node.always ?? []), ...[...node.transitions.values()].flat()];
}

/** State node ids active in a snapshot value: `{ a: { b: 'c' } }` → `m.a`, `m.a.b`, `m.a.b.c`. */
export function activeStateIds(machineId: string, value: unknown): string[] {
  const out: string[] = [];
  const walk = (prefix: string, v: unknown) => {
    if (typeof v === 'string') {
      out.push(`${prefix}.${v}`);
      return;
    }
    if (v && typeof v === 'object') {
      for (const [k, sub] of Object.entries(v)) {
        out.push(`${prefix}.${k}`);
        walk(`${prefix}.${k}`, sub);
      }
    }
  };
  walk(machineId, value);
  return out;
}

/** Whether a machine in this state value has finished: a final state directly under its root. */
export function finishedIn(machine: { root: unknown }, value: unknown): boolean {
  const root = machine.root as StateNodeLike;
  return typeof value === 'string' && root.states[value]?.type === 'final';
}
