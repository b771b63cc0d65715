/**
 * `machine.provide({ actors })` that builds the provided machine only once.
 *
 * XState's provide() builds the machine's whole tree of state nodes again, and every Agent
 * provides its own actors (closures over itself) to the node and election machines: about
 * 1.7 ms and a few hundred KB per agent start, and the simulator starts agents several times
 * per schedule. `shared(machine).provide({ actors })` builds `machine.provide(...)` once per
 * machine and set of actor names, with a stand-in for each promise actor, and answers an object
 * that is that machine (it inherits everything) carrying this caller's actors. A stand-in, when
 * invoked, calls the implementation given to the root actor it runs under, synchronously and
 * with the same arguments; so the machine runs exactly as with its own provide().
 *
 * Actors must be promise actors (fromPromise) or machines provided through shared() too.
 *
 * It reads XState internals (an actor's `_parent`, the source text of fromPromise's transition
 * function), so it lives with the simulator, not in production (the agent uses plain provide()),
 * and `test/unit/xstate-pin.test.ts` fails when XState is not the exact version it was checked on.
 */
import { type AnyActorLogic, type AnyStateMachine, fromPromise } from 'xstate';
import type { ProvideActors } from '../runtime/provide.ts';

const ACTORS = Symbol('shared.actors');

type Actors = Record<string, AnyActorLogic>;

/** What provide() answers: the shared machine, with this caller's actors. */
type Provided = AnyStateMachine & { [ACTORS]: Actors };

interface ActorLike {
  logic: unknown;
  _parent?: ActorLike;
}

/** fromPromise logic is recognised by its transition function (the same code in every one). */
const PROMISE_TRANSITION = fromPromise(async () => {}).transition.toString();

function isPromiseLogic(logic: unknown): logic is AnyActorLogic & { config: (args: unknown) => unknown } {
  const l = logic as { config?: unknown; transition?: unknown } | null;
  return (
    typeof l?.config === 'function' &&
    typeof l.transition === 'function' &&
    l.transition.toString() === PROMISE_TRANSITION
  );
}

function isProvided(logic: unknown): logic is Provided {
  return typeof logic === 'object' && logic !== null && Object.hasOwn(logic, ACTORS);
}

/** The actors given for the shared machine `owner`, found from the root's (nested ones too). */
function actorsFor(root: Provided, owner: AnyStateMachine): Actors | undefined {
  if (Object.getPrototypeOf(root) === owner) return root[ACTORS];
  for (const logic of Object.values(root[ACTORS])) {
    if (!isProvided(logic)) continue;
    const found = actorsFor(logic, owner);
    if (found) return found;
  }
  return undefined;
}

function standIn(owner: { machine: AnyStateMachine | null }, name: string): AnyActorLogic {
  return fromPromise((args) => {
    // Only the root actor was created from what provide() answered; invoked machines run the
    // shared machine itself.
    let actor = (args as unknown as { self: ActorLike }).self._parent;
    while (actor && !isProvided(actor.logic)) actor = actor._parent;
    const impl = actor && owner.machine && actorsFor(actor.logic as Provided, owner.machine)?.[name];
    if (!isPromiseLogic(impl)) throw new Error(`shared machine: no implementation of actor ${name}`);
    return impl.config(args) as PromiseLike<unknown>;
  });
}

/** Provided machines, per machine, by the names of the actors given (and nested machines). */
const built = new WeakMap<AnyStateMachine, Map<string, AnyStateMachine>>();
const providers = new WeakMap<AnyStateMachine, { provide: unknown }>();
const nestedIds = new WeakMap<object, number>();
let nextNestedId = 0;

function nestedId(logic: Provided): number {
  const machine = Object.getPrototypeOf(logic) as object;
  let id = nestedIds.get(machine);
  if (id === undefined) {
    id = nextNestedId++;
    nestedIds.set(machine, id);
  }
  return id;
}

function buildShared(machine: AnyStateMachine, implementations: { actors?: Actors }): Provided {
  const actors = implementations.actors ?? {};
  const names = Object.keys(actors).sort();
  for (const n of names) {
    if (!isProvided(actors[n]) && !isPromiseLogic(actors[n])) {
      throw new Error(`shared machine: actor ${n} is neither fromPromise nor a shared() machine`);
    }
  }
  const key = names.map((n) => (isProvided(actors[n]) ? `${n}=${nestedId(actors[n])}` : n)).join(',');
  let byKey = built.get(machine);
  if (!byKey) {
    byKey = new Map();
    built.set(machine, byKey);
  }
  let provided = byKey.get(key);
  if (!provided) {
    const owner: { machine: AnyStateMachine | null } = { machine: null };
    const standIns: Actors = {};
    for (const n of names) {
      const logic = actors[n];
      standIns[n] = isProvided(logic) ? (Object.getPrototypeOf(logic) as AnyStateMachine) : standIn(owner, n);
    }
    provided = machine.provide({ actors: standIns } as never) as AnyStateMachine;
    owner.machine = provided;
    byKey.set(key, provided);
  }
  const out = Object.create(provided) as Provided;
  out[ACTORS] = actors;
  return out;
}

/** `shared(machine).provide({ actors })`: as `machine.provide({ actors })`, built once (see above). */
export function shared<M extends AnyStateMachine>(machine: M): { provide: M['provide'] } {
  let p = providers.get(machine);
  if (!p) {
    p = { provide: (implementations: { actors?: Actors }) => buildShared(machine, implementations) };
    providers.set(machine, p);
  }
  return p as { provide: M['provide'] };
}

/** The simulator's ProvideActors: `shared(machine).provide({ actors })`. */
export const provideShared: ProvideActors = (machine, actors) =>
  shared(machine).provide({ actors } as never) as typeof machine;
