/**
 * What the REST API may ask of the node beyond reading its report: edits of /config and
 * /failover, and the operator actions, each run by the node's machines. The Agent implements it
 * (src/runtime/requests.ts); tests give a fake. Each answers with the status code and text (or
 * JSON) Patroni's API would send.
 */
import type { DcsEdit, EditAnswer } from '../cluster/dcs-edits.ts';
import type { FailoverPlan } from '../cluster/failover-plan.ts';
import type { ManualFailoverInput } from '../machines/manual-failover.ts';

export interface ActionResult {
  status: number;
  text: string;
}

import type { RestartRequest } from '../cluster/restart.ts';

export type { RestartRequest };

export interface Operations {
  /**
   * PATCH or PUT /config, DELETE /switchover once validated: planned on a fresh read of the
   * cluster, at most one key written, answered (the dcsEdit machine).
   */
  editDcs(edit: DcsEdit): Promise<EditAnswer>;
  /**
   * POST /switchover or /failover once validated: checked against the cluster and its members,
   * written to /failover, and answered with its outcome (the manualFailover machine).
   */
  manualFailover(request: ManualFailoverInput): Promise<ActionResult>;
  /** Run the HA decisions now instead of at the next loop (after /config or /failover writes). */
  wake(): void;
  /** SIGHUP semantics: re-read the configuration file and apply it. */
  reload(): void;
  restart(request: RestartRequest): Promise<ActionResult>;
  cancelScheduledRestart(): Promise<ActionResult>;
  reinitialize(force: boolean): Promise<ActionResult>;
  /** GET /failover-plan: who would take over if the leader died now (null: no DCS view). */
  failoverPlan(): Promise<FailoverPlan | null>;
  /** /config's failsafe_mode is on (POST /failsafe answers 502 otherwise, as Patroni). */
  failsafeMode(): boolean;
  /** POST /failsafe from leader `name`: 200 `Accepted`, or why not (failsafe mode). */
  failsafe(name: string): ActionResult;
}
