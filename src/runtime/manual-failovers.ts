/**
 * POST /switchover and /failover as actors: each request runs the manualFailover machine
 * (src/machines/manual-failover.ts) with this node's I/O — a fresh DCS read, GET /patroni of the
 * members it names, the /failover write — on the node's clock and journal, is shown every
 * cluster view the node receives, and resolves with the machine's answer. The decisions are the
 * machine's; nothing here looks at what an answer says.
 */
import { type Actor, createActor, fromPromise, type InspectionEvent } from 'xstate';
import type { Clock } from '../actors/clock.ts';
import type { PeerStatus } from '../cluster/eligibility.ts';
import { outcomeUnknown } from '../cluster/manual-failover.ts';
import type { ClusterView, Member } from '../cluster/view.ts';
import {
  type ManualAnswer,
  type ManualFailoverInput,
  manualFailoverMachine,
} from '../machines/manual-failover.ts';
import type { ProvideActors } from './provide.ts';
import { answerOf } from './request-actor.ts';

export interface ManualFailoverHost {
  clock: Clock;
  /** A fresh read of the cluster prefix (not the watch cache). */
  readCluster(): Promise<ClusterView>;
  probeMember(member: Member): Promise<PeerStatus>;
  /** Writes /failover; false when etcd refused it (a failed write is false too). */
  writeFailover(value: Record<string, unknown>): Promise<boolean>;
  /** Run the HA decisions now (the request was written). */
  wake(): void;
  inspect?: (ev: InspectionEvent) => void;
  provide: ProvideActors;
}

type ManualFailoverActor = Actor<typeof manualFailoverMachine>;

export class ManualFailovers {
  private readonly live = new Set<ManualFailoverActor>();
  private count = 0;

  constructor(private readonly h: ManualFailoverHost) {}

  /** Every cluster view the node receives, to each request waiting on one. */
  viewChanged(view: ClusterView): void {
    for (const actor of [...this.live]) actor.send({ type: 'CLUSTER', view });
  }

  /** Runs one request to its answer. */
  run(input: ManualFailoverInput): Promise<ManualAnswer> {
    const { h } = this;
    const machine = h.provide(manualFailoverMachine, {
      readCluster: fromPromise<ClusterView>(() => h.readCluster()),
      probeMembers: fromPromise<PeerStatus[], { members: Member[] }>(({ input }) =>
        Promise.all(input.members.map((m) => h.probeMember(m))),
      ),
      writeFailoverRequest: fromPromise<boolean, { value: Record<string, unknown> }>(({ input }) =>
        h.writeFailover(input.value).catch(() => false),
      ),
    });
    const actor = createActor(machine, {
      id: `manualFailover-${++this.count}`,
      clock: h.clock,
      input,
      inspect: h.inspect,
    });
    this.live.add(actor);
    actor.on('wake', () => h.wake());
    const { action } = input.request;
    return answerOf(
      actor,
      () => outcomeUnknown(action),
      () => this.live.delete(actor),
    );
  }
}
