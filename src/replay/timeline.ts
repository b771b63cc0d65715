/**
 * `pgwarden replay --timeline`: every node's transitions in one time-ordered list, each with the
 * state it left, the event that moved it and the guards that chose the way — an incident's story
 * on one screen. The leaderDuties and serverParameters machines move at every status write and
 * parameter sample; they are left out unless asked for.
 */
import type { JournalEntry } from '../actors/journal.ts';
import type { AgentRun } from './journals.ts';
import { eventLabel } from './state-text.ts';
import { journalTransitions } from './transitions.ts';

export interface TimelineLine {
  t: number;
  node: string;
  actor: string;
  from: string | null;
  to: string;
  /** The event that moved it (`start`: the actor's first state). */
  cause: string;
  guards: JournalEntry['guards'];
}

/** Actors the timeline shows unless told otherwise: all but the routine duty machines. */
export const ROUTINE_ACTORS = ['leaderDuties', 'serverParameters'];

export function timeline(runs: readonly AgentRun[], show: (actor: string) => boolean): TimelineLine[] {
  const lines: TimelineLine[] = [];
  for (const run of runs) {
    for (const tr of journalTransitions(run.entries, run.node)) {
      if (!show(tr.actor)) continue;
      lines.push({
        t: tr.t,
        node: tr.member,
        actor: tr.actor,
        from: tr.from,
        to: tr.to,
        cause: tr.start ? 'start' : tr.cause.type,
        guards: tr.guards,
      });
    }
  }
  // Stable: entries of one journal keep their order when their times are equal.
  return lines.sort((a, b) => a.t - b.t);
}

/**
 * `HH:MM:SS.mmm node actor from → to ← cause [guards]`, the date once per day. Only the guards
 * that answered yes are shown: the ones that chose the way (`pgwarden replay` and the
 * visualizer show every answer).
 */
export function formatTimeline(lines: readonly TimelineLine[]): string {
  const out: string[] = [];
  const nodeWidth = Math.max(4, ...lines.map((l) => l.node.length));
  const actorWidth = Math.max(5, ...lines.map((l) => l.actor.length));
  let day = '';
  for (const l of lines) {
    const iso = new Date(l.t).toISOString();
    if (iso.slice(0, 10) !== day) {
      day = iso.slice(0, 10);
      out.push(`── ${day} (UTC)`);
    }
    const move = l.from === null ? l.to : `${l.from} → ${l.to}`;
    const yes = (l.guards ?? []).filter(([, r]) => r).map(([g]) => g);
    const guards = yes.length > 0 ? `  [${yes.join(', ')}]` : '';
    out.push(
      `${iso.slice(11, 23)}  ${l.node.padEnd(nodeWidth)}  ${l.actor.padEnd(actorWidth)}  ${move}  ← ${eventLabel(l.cause)}${guards}`,
    );
  }
  return out.join('\n');
}
