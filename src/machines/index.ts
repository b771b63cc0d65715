/**
 * Every production machine, once: what the journal header fingerprints (a replay refuses other
 * definitions), what the transition tables document, and what the simulator's coverage counts.
 */
import type { AnyStateMachine } from 'xstate';
import { dcsEditMachine } from './dcs-edit.ts';
import { electionMachine } from './election/index.ts';
import { leaderDutiesMachine } from './leader-duties.ts';
import { manualFailoverMachine } from './manual-failover.ts';
import { nodeMachine } from './node/index.ts';
import { reinitializeRequestMachine } from './reinitialize-request.ts';
import { scheduledActionMachine } from './scheduled-action.ts';
import { serverParametersMachine } from './server-parameters.ts';

export const allMachines: readonly AnyStateMachine[] = [
  nodeMachine,
  electionMachine,
  scheduledActionMachine(),
  serverParametersMachine,
  leaderDutiesMachine,
  manualFailoverMachine,
  dcsEditMachine,
  reinitializeRequestMachine,
];
