/**
 * Which guards decided a transition. A machine given through `tracingGuards` has every named
 * guard wrapped so that its outcome is noted under the machine's id; the journal takes the notes
 * when it records the snapshot the event led to (`takeGuardOutcomes`), and a replay takes its
 * own the same way, so the two can be compared outcome by outcome.
 *
 * The notes are keyed by machine id, not by actor: XState evaluates one actor's guards
 * synchronously inside its transition, and an actor whose processing runs nested inside another's
 * (a child the parent sends to) is of a different machine. Two actors of one machine (the two
 * schedulers, two REST requests) never process inside each other.
 *
 * Only machines that a journal watches are traced (see Agent), so the notes are always taken.
 * A machine traced without a journal keeps at most MAX_NOTED outcomes.
 */
import type { AnyStateMachine } from 'xstate';
import type { ProvideActors } from '../runtime/provide.ts';

/** A guard's name and what it answered, in the order XState asked. */
export type GuardOutcome = [name: string, result: boolean];

const MAX_NOTED = 64;
const noted = new Map<string, GuardOutcome[]>();

function note(machineId: string, name: string, result: boolean): void {
  let list = noted.get(machineId);
  if (!list) {
    list = [];
    noted.set(machineId, list);
  }
  if (list.length < MAX_NOTED) list.push([name, result]);
}

/** The outcomes noted for `machineId` since they were last taken (none: undefined). */
export function takeGuardOutcomes(machineId: string): GuardOutcome[] | undefined {
  const list = noted.get(machineId);
  if (!list || list.length === 0) return undefined;
  noted.set(machineId, []);
  return list;
}

type Guard = (args: unknown, params: unknown) => boolean;

const traced = new WeakMap<AnyStateMachine, AnyStateMachine>();

/** `machine` with each named guard noting its outcome (built once per machine). */
export function withTracedGuards<M extends AnyStateMachine>(machine: M): M {
  let out = traced.get(machine);
  if (!out) {
    const id = machine.id;
    const guards: Record<string, Guard> = {};
    for (const [name, guard] of Object.entries(machine.implementations.guards as Record<string, Guard>)) {
      guards[name] = (args, params) => {
        const result = guard(args, params);
        note(id, name, Boolean(result));
        return result;
      };
    }
    out = machine.provide({ guards } as never) as AnyStateMachine;
    traced.set(machine, out);
  }
  return out as M;
}

/** A ProvideActors that traces the guards of every machine it gives actors to. */
export function tracingGuards(provide: ProvideActors): ProvideActors {
  return (machine, actors) => provide(withTracedGuards(machine), actors);
}
