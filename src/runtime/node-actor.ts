/**
 * The node machine as one actor system: its I/O actors (node-actors.ts) and both schedulers
 * given to it, its journal and inspectors attached, named so that the journal says `node`,
 * `node.election`, `node.restartScheduler` rather than `x:0`.
 */
import { createActor, fromPromise, type InspectionEvent } from 'xstate';
import { definitionsHash, type Journal } from '../actors/journal.ts';
import { PGWARDEN_VERSION } from '../cluster/report.ts';
import type { NodeConfig } from '../config/types.ts';
import { allMachines } from '../machines/index.ts';
import {
  type NodeActor,
  type NodeSettings,
  nodeMachine,
  restartSchedulerMachine,
  switchoverSchedulerMachine,
} from '../machines/node/index.ts';
import { type ActorHost, dcsActors, postgresActors } from './node-actors.ts';

/** The journal and any other inspector the caller gave, as one XState inspector. */
export function inspectorFor(
  journal: Journal | undefined,
  inspect: ((ev: InspectionEvent) => void) | undefined,
): ((ev: InspectionEvent) => void) | undefined {
  if (!journal && !inspect) return undefined;
  return (ev) => {
    journal?.inspect(ev);
    inspect?.(ev);
  };
}

/**
 * First in the journal, before any actor starts: what wrote it and with which settings, so that
 * a replay can refuse other machine definitions.
 */
export function writeJournalHeader(
  journal: Journal | undefined,
  config: NodeConfig,
  settings: NodeSettings,
): void {
  journal?.header({
    version: PGWARDEN_VERSION,
    machines: definitionsHash(allMachines),
    node: config.name,
    settings,
  });
}

export function createNodeActor(
  host: ActorHost,
  config: NodeConfig,
  settings: NodeSettings,
  observers: { journal?: Journal; inspect?: (ev: InspectionEvent) => void },
): NodeActor {
  const { provide, clock } = host;
  const readClock = { readClock: fromPromise<number>(async () => clock.now()) };
  const machine = provide(nodeMachine, {
    ...postgresActors(host),
    ...dcsActors(host),
    restartScheduler: provide(restartSchedulerMachine, readClock),
    switchoverScheduler: provide(switchoverSchedulerMachine, readClock),
  });
  return createActor(machine, {
    id: 'node',
    clock,
    input: {
      name: config.name,
      tags: {
        nofailover: config.tags.nofailover,
        clonefrom: config.tags.clonefrom,
        replicatefrom: config.tags.replicatefrom,
        nostream: config.tags.nostream,
        failoverPriority: config.tags.failover_priority,
      },
      settings,
    },
    inspect: inspectorFor(observers.journal, observers.inspect),
  });
}
