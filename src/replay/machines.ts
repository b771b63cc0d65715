/**
 * Which production machine a journalled actor runs, and the same machine made inert for a replay:
 * none of its actors does anything (the recorded `xstate.done.actor.*` / `xstate.error.actor.*`
 * events answer for them, and each child machine is replayed from its own entries), its guards
 * are traced (guard-trace.ts) so that their outcomes can be compared with the recorded ones.
 */
import { type AnyActorLogic, type AnyStateMachine, fromCallback } from 'xstate';
import { withTracedGuards } from '../actors/guard-trace.ts';
import { allMachines } from '../machines/index.ts';

/** An invoked actor in a replay: started, never answers, ignores what it is sent. */
const INERT: AnyActorLogic = fromCallback(() => undefined);

/** Root actors are named by machine id, a REST request's with `-N` after it (`manualFailover-3`). */
function rootMachine(name: string): AnyStateMachine | undefined {
  const id = name.replace(/-\d+$/, '');
  return allMachines.find((m) => m.id === id);
}

/** A machine `m` invokes under `id` (the node machine's invoke ids are its actor names). */
function childMachine(m: AnyStateMachine, id: string): AnyStateMachine | undefined {
  const logic = (m.implementations.actors as Record<string, unknown>)[id];
  return isMachine(logic) ? logic : undefined;
}

function isMachine(logic: unknown): logic is AnyStateMachine {
  return typeof logic === 'object' && logic !== null && 'root' in logic && 'implementations' in logic;
}

/** The machine a journal's actor name (`node`, `node.election`, `dcsEdit-2`) runs; none: unknown. */
export function machineForActor(name: string): AnyStateMachine | undefined {
  const [root, ...path] = name.split('.');
  let m = rootMachine(root!);
  for (const id of path) m = m && childMachine(m, id);
  return m;
}

const inert = new WeakMap<AnyStateMachine, AnyStateMachine>();

/** `m` for a replay: every actor inert, every guard traced (built once per machine). */
export function replayable(m: AnyStateMachine): AnyStateMachine {
  let out = inert.get(m);
  if (!out) {
    const actors = Object.fromEntries(Object.keys(m.implementations.actors).map((k) => [k, INERT]));
    out = withTracedGuards(m).provide({ actors } as never) as AnyStateMachine;
    inert.set(m, out);
  }
  return out;
}
