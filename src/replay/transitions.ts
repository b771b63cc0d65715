/**
 * A journal's transitions, each with the event that caused it (type, readable label, payload)
 * and the guards that chose it, the state it left and the state ids it is now in. One converter
 * for `pgwarden replay --timeline`, the visualizer's live stream (entry by entry) and its journal
 * mode (all at once).
 */
import type { AnyStateMachine } from 'xstate';
import type { JournalEntry } from '../actors/journal.ts';
import { activeStateIds, finishedIn } from '../machines/definition.ts';
import { machineForActor } from './machines.ts';
import { eventLabel, stateText } from './state-text.ts';

export interface VizTransition {
  t: number;
  member: string;
  actor: string;
  /** The chart it belongs to (the machine id); null: an actor of no known machine. */
  chart: string | null;
  from: string | null;
  to: string;
  /** Active state ids below the machine root, for the chart. */
  active: string[];
  cause: { type: string; label: string; event?: unknown };
  guards?: JournalEntry['guards'];
  /** The actor's first state. */
  start?: boolean;
  /** The actor reached a final state: it is done (a REST request answered). */
  finished?: boolean;
}

export class TransitionFeed {
  private readonly lastEvent = new Map<string, JournalEntry>();
  private readonly lastState = new Map<string, string>();
  private readonly machines = new Map<string, AnyStateMachine | null>();

  constructor(private member: string) {}

  /** A header: a new agent run of `member`, every actor starting afresh. */
  private restart(node: string): void {
    this.member = node;
    this.lastEvent.clear();
    this.lastState.clear();
  }

  push(e: JournalEntry): VizTransition | null {
    if (e.kind === 'header') {
      this.restart((e.event as { node?: string })?.node ?? this.member);
      return null;
    }
    if (e.kind === 'event') {
      this.lastEvent.set(e.actor, e);
      if (e.what === 'xstate.init') this.lastState.delete(e.actor);
      return null;
    }
    const cause = this.lastEvent.get(e.actor);
    const machine = this.machineOf(e.actor);
    const from = this.lastState.get(e.actor) ?? null;
    const to = stateText(e.what);
    const value: unknown = e.what.startsWith('{') ? JSON.parse(e.what) : e.what;
    const finished = machine !== null && finishedIn(machine, value);
    // A finished actor is never heard of again (one per REST request): nothing kept for it.
    if (finished) {
      this.lastState.delete(e.actor);
      this.lastEvent.delete(e.actor);
    } else {
      this.lastState.set(e.actor, to);
    }
    const out: VizTransition = {
      t: e.t,
      member: this.member,
      actor: e.actor,
      chart: machine?.id ?? null,
      from,
      to,
      active: activeStateIds('', value).map((id) => id.slice(1)),
      cause: cause
        ? {
            type: cause.what,
            label: cause.what === 'xstate.init' ? 'start' : eventLabel(cause.what),
            event: cause.event,
          }
        : { type: '?', label: '?' },
    };
    if (e.guards) out.guards = e.guards;
    if (cause?.what === 'xstate.init') out.start = true;
    if (finished) out.finished = true;
    return out;
  }

  /** The machine an actor runs, looked up once per kind of actor (`manualFailover-N` share one). */
  private machineOf(actor: string): AnyStateMachine | null {
    const kind = actor.replace(/-\d+$/, '');
    let m = this.machines.get(kind);
    if (m === undefined) {
      m = machineForActor(actor) ?? null;
      this.machines.set(kind, m);
    }
    return m;
  }
}

/** Every transition of a journal (one node's entries, in order). */
export function journalTransitions(entries: readonly JournalEntry[], member = '?'): VizTransition[] {
  const feed = new TransitionFeed(member);
  const out: VizTransition[] = [];
  for (const e of entries) {
    const t = feed.push(e);
    if (t) out.push(t);
  }
  return out;
}
