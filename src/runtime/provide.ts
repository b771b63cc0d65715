/**
 * How the agent gives its machines their actors. Production uses XState's own
 * `machine.provide()`; the simulator, which starts agents thousands of times, passes the cached
 * variant from `src/testing/shared-machine.ts` (it leans on XState internals, pinned by a test
 * to the exact XState version). Either way the machines run the same.
 */
import type { AnyActorLogic, AnyStateMachine } from 'xstate';

export type ProvideActors = <M extends AnyStateMachine>(
  machine: M,
  actors: Record<string, AnyActorLogic>,
) => M;

export const provideActors: ProvideActors = (machine, actors) =>
  machine.provide({ actors } as never) as typeof machine;
