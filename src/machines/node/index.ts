/** The node machine: one pgwarden node's lifecycle (machine.ts), its types and pure readings. */

export { restartSchedulerMachine, switchoverSchedulerMachine } from './actors.ts';
export { localFacts, REWIND_RETRY_LOOPS, ranAsPrimary } from './facts.ts';
export { type NodeActor, type NodeSnapshot, nodeMachine } from './machine.ts';
export type {
  NodeContext,
  NodeEmitted,
  NodeEvent,
  NodeInput,
  NodeSettings,
  NodeTags,
  PgState,
} from './types.ts';
