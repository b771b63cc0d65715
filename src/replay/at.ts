/**
 * `pgwarden replay --at TIME`: every machine's state and context at one instant, rebuilt by
 * replaying each node's journal up to it (the journal records inputs, not contexts).
 */
import { stringify } from 'yaml';
import { parseInstant } from './instant.ts';
import type { AgentRun } from './journals.ts';
import { type ReplayOptions, replayRuns } from './replay.ts';
import { stateText } from './state-text.ts';

export interface ActorAt {
  state: string;
  context: unknown;
}

/** Each node's actors (the agent run going on at `at`) as they were then. */
export function statesAt(
  runs: readonly AgentRun[],
  at: number,
  opts: ReplayOptions = {},
): Map<string, Map<string, ActorAt>> {
  const report = replayRuns(runs, { ...opts, until: at });
  const out = new Map<string, Map<string, ActorAt>>();
  for (const [node, actors] of report.actors) {
    const m = new Map<string, ActorAt>();
    for (const [name, actor] of actors)
      m.set(name, { state: stateText(actor.state()), context: actor.context() });
    out.set(node, m);
  }
  return out;
}

/**
 * A time as the command line gives it: ISO 8601, epoch milliseconds, or `+N`/`+Ns`/`+Nms` after
 * the journals' first entry. Null: not a time.
 */
export function parseTime(text: string, first: number): number | null {
  const rel = /^\+(\d+(?:\.\d+)?)(ms|s)?$/.exec(text);
  if (rel) return first + Number(rel[1]) * (rel[2] === 'ms' ? 1 : 1000);
  return parseInstant(text);
}

export function formatStatesAt(states: Map<string, Map<string, ActorAt>>, at: number): string {
  const doc: Record<string, Record<string, ActorAt>> = {};
  for (const [node, actors] of states) doc[node] = Object.fromEntries(actors);
  return `# every machine at ${new Date(at).toISOString()}\n${stringify(doc, { lineWidth: 0 })}`;
}
