/**
 * PATCH and PUT /config and DELETE /switchover as actors: each request runs the dcsEdit machine
 * (src/machines/dcs-edit.ts) with this node's DCS — a fresh read and at most one write — and
 * resolves with the machine's answer.
 */
import { createActor, fromPromise, type InspectionEvent } from 'xstate';
import type { Clock } from '../actors/clock.ts';
import type { Dcs } from '../actors/dcs.ts';
import type { DcsEdit, EditAnswer } from '../cluster/dcs-edits.ts';
import type { ClusterView } from '../cluster/view.ts';
import { dcsEditMachine, type KeyWrite } from '../machines/dcs-edit.ts';
import type { ProvideActors } from './provide.ts';
import { answerOf } from './request-actor.ts';

export interface DcsEditsHost {
  clock: Clock;
  dcs: Pick<Dcs, 'getCluster' | 'setConfig' | 'setFailover'>;
  /** Run the HA decisions now. */
  wake(): void;
  inspect?: (ev: InspectionEvent) => void;
  provide: ProvideActors;
}

export class DcsEdits {
  private count = 0;

  constructor(private readonly h: DcsEditsHost) {}

  run(edit: DcsEdit): Promise<EditAnswer> {
    const { h } = this;
    const machine = h.provide(dcsEditMachine, {
      readCluster: fromPromise<ClusterView>(() => h.dcs.getCluster()),
      writeKey: fromPromise<boolean, KeyWrite | null>(({ input }) => {
        if (!input) return Promise.reject(new Error('no write planned'));
        return input.key === 'config'
          ? h.dcs.setConfig(input.value, input.index)
          : h.dcs.setFailover(input.value, input.index);
      }),
    });
    const actor = createActor(machine, {
      id: `dcsEdit-${++this.count}`,
      clock: h.clock,
      input: { edit },
      inspect: h.inspect,
    });
    actor.on('wake', () => h.wake());
    return answerOf(actor, (reason) => ({ status: 503, text: `Service Unavailable: ${reason}` }));
  }
}
