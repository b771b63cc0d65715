/**
 * `pgwarden replay`: the production machines run again on a journal's recorded inputs, and every
 * recorded transition must happen again, in order, chosen by the same guard outcomes.
 *
 * Each journalled actor is replayed on its own (a child machine's events from its parent are in
 * the journal under the child's name, and the parent's sends go nowhere): its recorded
 * `xstate.init` starts it with the recorded input; each recorded event is sent at its recorded
 * time, XState's own included (an invoked actor's result, a timer); each state it moves to is
 * compared with the next state the journal recorded for it, and so are the guards' answers. An
 * actor whose start the journal does not hold (it began before the oldest rotated file) is left
 * out and counted.
 */
import type { AnyStateMachine } from 'xstate';
import type { GuardOutcome } from '../actors/guard-trace.ts';
import { definitionsHash } from '../actors/journal.ts';
import { allMachines } from '../machines/index.ts';
import { ActorReplay, isTimerEvent, type Step } from './actor-replay.ts';
import type { AgentRun } from './journals.ts';
import { machineForActor } from './machines.ts';

export interface ReplayOptions {
  /** Replay a journal written by other machine definitions (with a warning). */
  force?: boolean;
  /** Replace a machine before it is replayed (tests: a changed guard must be caught). */
  adjust?: (machine: AnyStateMachine) => AnyStateMachine;
  /** Stop before the first entry after this time (epoch ms): `--at`. */
  until?: number;
}

export interface Divergence {
  node: string;
  actor: string;
  /** When the event that diverged was recorded (epoch ms). */
  t: number;
  event: { type: string };
  /** The state the journal recorded (null: none, the actor stayed where it was). */
  expected: string | null;
  actual: string;
  recordedGuards?: GuardOutcome[];
  replayedGuards?: GuardOutcome[];
  /** What differed, in a line. */
  why: string;
}

export interface ReplayReport {
  /** Events sent to replayed actors. */
  events: number;
  /** Recorded transitions, and how many happened again. */
  transitions: number;
  reproduced: number;
  divergence: Divergence | null;
  warnings: string[];
  /** Actors left out: their start is not in the journal. */
  skipped: string[];
  /** Each node's actors as the replay left them (for `--at`). */
  actors: Map<string, Map<string, ActorReplay>>;
}

export class ReplayRefused extends Error {}

/** What the replay of one actor produced and the journal has not yet confirmed. */
interface Pending {
  step: Step;
  event: { type: string };
  t: number;
}

export function replayRuns(runs: readonly AgentRun[], opts: ReplayOptions = {}): ReplayReport {
  const report: ReplayReport = {
    events: 0,
    transitions: 0,
    reproduced: 0,
    divergence: null,
    warnings: [],
    skipped: [],
    actors: new Map(),
  };
  const ours = definitionsHash(allMachines);
  for (const run of runs) {
    // --at: an agent run that had not begun yet is not the one going on then.
    if (opts.until !== undefined && (run.entries[0]?.t ?? 0) > opts.until) continue;
    checkHeader(run, ours, opts, report);
    replayRun(run, opts, report);
    if (report.divergence) break;
  }
  return report;
}

function checkHeader(run: AgentRun, ours: string, opts: ReplayOptions, report: ReplayReport): void {
  const theirs = run.header?.machines;
  if (theirs === ours) return;
  const what =
    theirs === undefined
      ? `the journal of ${run.node} has no header saying which machines wrote it`
      : `the journal of ${run.node} was written by pgwarden ${run.header?.version} with other machine definitions (${theirs.slice(0, 12)}, these are ${ours.slice(0, 12)})`;
  if (!opts.force) throw new ReplayRefused(`${what}; replay it with --force to try anyway`);
  report.warnings.push(`${what}: replayed anyway (--force)`);
}

function replayRun(run: AgentRun, opts: ReplayOptions, report: ReplayReport): void {
  const actors = new Map<string, ActorReplay>();
  report.actors.set(run.node, actors);
  const pending = new Map<string, Pending[]>();
  const lastEvent = new Map<string, { event: { type: string }; t: number; guards?: GuardOutcome[] }>();
  const skipped = new Set<string>();
  const diverge = (d: Omit<Divergence, 'node'>) => {
    report.divergence = { node: run.node, ...d };
  };
  const produced = (actor: string, step: Step, event: { type: string }, t: number) => {
    if (step.error) {
      diverge({
        actor,
        t,
        event,
        expected: null,
        actual: step.state,
        why: `the machine threw: ${step.error}`,
      });
      return;
    }
    if (!step.changed) return;
    const list = pending.get(actor) ?? [];
    list.push({ step, event, t });
    pending.set(actor, list);
  };

  for (const e of run.entries) {
    if (opts.until !== undefined && e.t > opts.until) return;
    if (e.kind === 'header') continue;
    if (e.kind === 'event') {
      const event = e.event as { type: string; input?: unknown };
      if (e.what === 'xstate.init') {
        const machine = machineForActor(e.actor);
        if (!machine) {
          report.warnings.push(`${run.node}: no machine for actor ${e.actor}; left out`);
          skipped.add(e.actor);
          continue;
        }
        skipped.delete(e.actor);
        pending.delete(e.actor);
        const replay = new ActorReplay(e.actor, opts.adjust ? opts.adjust(machine) : machine, event.input, e);
        actors.set(e.actor, replay);
        produced(e.actor, replay.first, event, e.t);
      } else {
        const replay = actors.get(e.actor);
        if (!replay) {
          if (!skipped.has(e.actor) && !report.skipped.includes(`${run.node}/${e.actor}`))
            report.skipped.push(`${run.node}/${e.actor}`);
          skipped.add(e.actor);
          continue;
        }
        if (isTimerEvent(e.what) && !replay.clock.timerWasDue(e)) {
          report.warnings.push(
            `${run.node}/${e.actor}: ${e.what} at ${new Date(e.t).toISOString()} fired before any timer of the replay was due`,
          );
        }
        report.events++;
        const step = replay.send(event, e);
        lastEvent.set(e.actor, { event, t: e.t, guards: step.guards });
        produced(e.actor, step, event, e.t);
      }
    } else if (e.kind === 'state') {
      if (!actors.has(e.actor) || skipped.has(e.actor)) continue;
      report.transitions++;
      const next = pending.get(e.actor)?.shift();
      if (!next) {
        const last = lastEvent.get(e.actor) ?? { event: { type: 'xstate.init' }, t: e.t };
        diverge({
          actor: e.actor,
          t: last.t,
          event: last.event,
          expected: e.what,
          actual: actors.get(e.actor)!.state(),
          recordedGuards: e.guards,
          replayedGuards: last.guards,
          why: 'the replay stayed where it was',
        });
      } else {
        const why =
          next.step.state !== e.what
            ? 'the replay moved elsewhere'
            : e.guards && !sameGuards(e.guards, next.step.guards)
              ? 'the same state, chosen by other guard outcomes'
              : null;
        if (why === null) report.reproduced++;
        else
          diverge({
            actor: e.actor,
            t: next.t,
            event: next.event,
            expected: e.what,
            actual: next.step.state,
            recordedGuards: e.guards,
            replayedGuards: next.step.guards,
            why,
          });
      }
    }
    if (report.divergence) return;
  }
  if (opts.until !== undefined) return;
  for (const [actor, list] of pending) {
    const extra = list[0];
    if (!extra) continue;
    diverge({
      actor,
      t: extra.t,
      event: extra.event,
      expected: null,
      actual: extra.step.state,
      replayedGuards: extra.step.guards,
      why: 'the replay moved where the journal records no transition',
    });
    return;
  }
}

function sameGuards(a: readonly GuardOutcome[], b: readonly GuardOutcome[] | undefined): boolean {
  if (!b || a.length !== b.length) return false;
  return a.every(([name, result], i) => b[i]![0] === name && b[i]![1] === result);
}
