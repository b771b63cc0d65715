/**
 * Operator requests that the REST API hands to this node, the whole `Operations` contract:
 * POST/DELETE /restart become one event to the node machine carrying a request id, answered from
 * the event the machine emits back for that id, within a bound (the decisions — Patroni's restart
 * filters, "something else is running" — are the machine's; Patroni's texts and codes are chosen
 * here from its answer). POST /reinitialize, /switchover and /failover, PATCH/PUT /config and
 * DELETE /switchover each run a request machine of their own (reinitialize below,
 * manual-failovers.ts, dcs-edits.ts) whose output is the answer.
 */
import { createActor, fromPromise, type InspectionEvent } from 'xstate';
import { monotonicNow } from '../actors/clock.ts';
import type { PeerStatus } from '../cluster/eligibility.ts';
import type { NodeReport } from '../cluster/report.ts';
import type { ClusterView, Member } from '../cluster/view.ts';
import type { ActionResult, Operations, RestartRequest } from '../http/operations.ts';
import type { NodeEmitted } from '../machines/node/index.ts';
import {
  NODE_ANSWER_MS,
  type NodeReinitializeAnswer,
  reinitializeRequestMachine,
} from '../machines/reinitialize-request.ts';
import { fetchPeerStatus, peerClientOptions } from '../transport/peer-client.ts';
import type { NodeCore } from './core.ts';
import { DcsEdits } from './dcs-edits.ts';
import { FailoverPlans } from './failover-plan.ts';
import { answerFailsafe } from './failsafe.ts';
import { ManualFailovers } from './manual-failovers.ts';
import type { ProvideActors } from './provide.ts';
import { answerOf } from './request-actor.ts';

export type RequestsHost = Pick<
  NodeCore,
  'actor' | 'dcs' | 'clock' | 'config' | 'publish' | 'view' | 'settings'
> & {
  reload(): void;
  /** One member's status (GET its api_url, 2 s unless told); defaults to HTTP with this node's credentials. */
  fetchPeer?: (member: Member, timeoutMs?: number) => Promise<PeerStatus>;
  /** The journal (and any inspector): the switchover requests' machines are recorded too. */
  inspect?: (ev: InspectionEvent) => void;
  provide: ProvideActors;
  /** This node's report (its own status in the failover plan). */
  report(): NodeReport;
};

export class NodeRequests {
  private lastRequestId = 0;
  private reinitializeCount = 0;
  private readonly manualFailovers: ManualFailovers;
  private readonly dcsEdits: DcsEdits;
  private readonly plans: FailoverPlans;

  constructor(private readonly h: RequestsHost) {
    this.manualFailovers = new ManualFailovers({
      clock: h.clock,
      readCluster: () => h.dcs.getCluster(),
      probeMember: (member) => this.probeMember(member),
      writeFailover: (value) => h.dcs.setFailover(value),
      wake: () => this.wake(),
      inspect: h.inspect,
      provide: h.provide,
    });
    this.plans = new FailoverPlans({ ...h, probeMember: (m) => this.probeMember(m) }, () =>
      monotonicNow(h.clock),
    );
    this.dcsEdits = new DcsEdits({
      clock: h.clock,
      dcs: h.dcs,
      wake: () => this.wake(),
      inspect: h.inspect,
      provide: h.provide,
    });
  }

  /** A new cluster view: switchover requests waiting on their outcome look at it. */
  viewChanged(view: ClusterView): void {
    this.manualFailovers.viewChanged(view);
  }

  /** Run the HA decisions now and write the member key (after /config or /failover writes). */
  private wake(): void {
    this.h.actor.send({ type: 'WAKE' });
    void this.h.publish(true);
  }

  /** What the REST routes may ask of this node. */
  operations(): Operations {
    const h = this.h;
    return {
      editDcs: (edit) => this.dcsEdits.run(edit),
      manualFailover: (request) => this.manualFailovers.run(request),
      wake: () => this.wake(),
      reload: () => h.reload(),
      restart: (request) => this.restart(request),
      cancelScheduledRestart: () => this.cancelScheduledRestart(),
      reinitialize: (force) => this.reinitialize(force),
      failoverPlan: () => this.plans.get(),
      failsafeMode: () => h.settings().failsafe_mode === true,
      failsafe: (name) => answerFailsafe(h.actor, name),
    };
  }

  probeMember(member: Member, timeoutMs?: number): Promise<PeerStatus> {
    if (this.h.fetchPeer) return this.h.fetchPeer(member, timeoutMs);
    const opts = peerClientOptions(this.h.config());
    return fetchPeerStatus(member, timeoutMs === undefined ? opts : { ...opts, timeoutMs });
  }

  /**
   * Sends what `send(requestId)` builds and waits for the first of `types` the node machine emits
   * for that request (a concurrent request has another id): null once `ms` have passed, or when
   * `signal` aborts (the request's own machine stopped waiting).
   */
  private answer<T extends NodeEmitted['type']>(
    types: T[],
    send: (requestId: number) => void,
    ms: number,
    signal?: AbortSignal,
  ): Promise<Extract<NodeEmitted, { type: T }> | null> {
    const { actor, clock } = this.h;
    const requestId = ++this.lastRequestId;
    return new Promise((resolve) => {
      const subs = types.map((t) =>
        actor.on(t, (e) => {
          if ((e as { requestId?: number | null }).requestId === requestId)
            finish(e as Extract<NodeEmitted, { type: T }>);
        }),
      );
      const timer = clock.setTimeout(() => finish(null), ms);
      const abandon = () => finish(null);
      signal?.addEventListener('abort', abandon);
      const finish = (e: Extract<NodeEmitted, { type: T }> | null) => {
        for (const s of subs) s.unsubscribe();
        clock.clearTimeout(timer);
        signal?.removeEventListener('abort', abandon);
        resolve(e);
      };
      send(requestId);
    });
  }

  /**
   * POST /restart: the node machine applies Patroni's filters and restarts (or says why not); a
   * scheduled one goes to its restart scheduler. The answer is the event it emits back.
   */
  async restart(request: RestartRequest): Promise<ActionResult> {
    const { actor, clock } = this.h;
    if (request.schedule) {
      const answer = await this.answer(
        ['restart.scheduled', 'restart.conflict'],
        (requestId) => actor.send({ type: 'SCHEDULE_RESTART', request, nowMs: clock.now(), requestId }),
        5000,
      );
      if (!answer) return { status: 503, text: 'restart not scheduled: the node machine is not running' };
      return answer.type === 'restart.scheduled'
        ? { status: 202, text: 'Restart scheduled' }
        : { status: 409, text: 'Another restart is already scheduled' };
    }
    const { role, postgres_version, restart_pending } = request;
    const bound = ((request.timeout ?? this.h.config().postgresql.pg_ctl_timeout) * 2 + 30) * 1000;
    const answer = await this.answer(
      ['restart.done', 'restart.busy', 'restart.refused'],
      (requestId) =>
        actor.send({
          type: 'RESTART',
          timeoutSeconds: request.timeout ?? null,
          conditions: { role, postgres_version, restart_pending },
          requestId,
        }),
      bound,
    );
    if (!answer) return { status: 503, text: 'postgres is still starting' };
    if (answer.type === 'restart.refused')
      return { status: 503, text: 'restart conditions are not satisfied' };
    if (answer.type === 'restart.busy') return { status: 503, text: `${answer.action} already in progress` };
    return answer.ok
      ? { status: 200, text: 'restarted successfully' }
      : { status: 503, text: 'restart failed' };
  }

  async cancelScheduledRestart(): Promise<ActionResult> {
    const answer = await this.answer(
      ['restart.cancelled', 'restart.nothingToCancel'],
      (requestId) => this.h.actor.send({ type: 'CANCEL_SCHEDULED_RESTART', requestId }),
      5000,
    );
    return answer?.type === 'restart.cancelled'
      ? { status: 200, text: 'scheduled restart deleted' }
      : { status: 404, text: 'no restarts are scheduled' };
  }

  /**
   * POST /reinitialize: a reinitializeRequest machine (src/machines/reinitialize-request.ts) reads
   * the DCS afresh, applies Patroni's preconditions, and asks the node machine, whose answer it
   * turns into the route's.
   */
  reinitialize(force: boolean): Promise<ActionResult> {
    const { h } = this;
    const machine = h.provide(reinitializeRequestMachine, {
      readCluster: fromPromise<ClusterView>(() => h.dcs.getCluster()),
      askNode: fromPromise<NodeReinitializeAnswer, { force: boolean }>(async ({ input, signal }) => {
        const answer = await this.answer(
          ['reinitialize.started', 'reinitialize.busy'],
          (requestId) => h.actor.send({ type: 'REINITIALIZE', force: input.force, requestId }),
          // The machine bounds the wait (NODE_ANSWER_MS); this is only the backstop.
          2 * NODE_ANSWER_MS,
          signal,
        );
        if (answer?.type === 'reinitialize.started') return { started: true };
        return {
          started: false,
          action: answer?.type === 'reinitialize.busy' ? answer.action : 'reinitialize',
        };
      }),
    });
    const actor = createActor(machine, {
      id: `reinitializeRequest-${++this.reinitializeCount}`,
      clock: h.clock,
      input: { me: h.config().name, iHoldTheLock: h.actor.getSnapshot().context.isLeader, force },
      inspect: h.inspect,
    });
    return answerOf(actor, (reason) => ({ status: 503, text: `reinitialize failed: ${reason}` }));
  }
}
