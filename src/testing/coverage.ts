/**
 * Which states of the node and election machines a set of simulated runs visited. The full
 * set comes from the machine definitions themselves, so a state added to a machine shows up as
 * unvisited until some schedule or targeted scenario reaches it.
 */
import type { AnyStateMachine, InspectionEvent } from 'xstate';
import { electionMachine } from '../machines/election.ts';
import { nodeMachine } from '../machines/node.ts';

interface StateNodeLike {
  id: string;
  states: Record<string, StateNodeLike>;
  always?: Array<{ guard?: unknown }>;
}

/**
 * States left at once by an unguarded eventless transition (`init`, `boot`, `deciding`, ...):
 * they are passed through, never at rest, so no snapshot can show them.
 */
export function transientStateIds(machine: AnyStateMachine): Set<string> {
  const out = new Set<string>();
  const walk = (n: StateNodeLike) => {
    for (const child of Object.values(n.states)) {
      if (child.always?.some((t) => t.guard === undefined)) out.add(child.id);
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

export interface MachineCoverage {
  machine: string;
  /** States that can be at rest (transient ones excluded). */
  total: number;
  visited: number;
  unvisited: string[];
  transient: number;
}

export class StateCoverage {
  private readonly machines: AnyStateMachine[] = [nodeMachine, electionMachine];
  private readonly seen = new Map<string, Set<string>>();

  /** An XState inspector: pass it to every actor whose states should count. */
  readonly inspect = (ev: InspectionEvent): void => {
    if (ev.type !== '@xstate.snapshot') return;
    const logic = (ev.actorRef as unknown as { logic?: { id?: string } }).logic;
    const id = logic?.id;
    if (!id || !this.machines.some((m) => m.id === id)) return;
    const value = (ev.snapshot as { value?: unknown }).value;
    let set = this.seen.get(id);
    if (!set) {
      set = new Set();
      this.seen.set(id, set);
    }
    for (const s of activeStateIds(id, value)) set.add(s);
  };

  report(): MachineCoverage[] {
    return this.machines.map((m) => {
      const transient = transientStateIds(m);
      const all = allStateIds(m).filter((s) => !transient.has(s));
      const seen = this.seen.get(m.id) ?? new Set<string>();
      const unvisited = all.filter((s) => !seen.has(s));
      return {
        machine: m.id,
        total: all.length,
        visited: all.length - unvisited.length,
        unvisited,
        transient: transient.size,
      };
    });
  }
}

export function formatCoverage(report: MachineCoverage[]): string {
  return report
    .map(
      (r) =>
        `${r.machine}: ${r.visited}/${r.total} states visited (${r.transient} transient states not counted)` +
        (r.unvisited.length > 0 ? `; not visited: ${r.unvisited.join(', ')}` : ''),
    )
    .join('\n');
}
