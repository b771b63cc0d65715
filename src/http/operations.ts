/**
 * What the REST API may ask of the node beyond reading its report: fresh DCS reads and writes
 * for /config and /failover, and the operator actions. The Agent implements it; tests give a
 * fake. Each action answers with the status code and text Patroni's API would send.
 */
import type { PeerStatus } from '../cluster/eligibility.ts';
import type { ClusterView, Member } from '../cluster/view.ts';

export interface ActionResult {
  status: number;
  text: string;
}

import type { RestartRequest } from '../cluster/restart.ts';

export type { RestartRequest };

export interface Operations {
  /** A fresh read of the whole cluster prefix (not the watch cache). */
  getCluster(): Promise<ClusterView>;
  /** Compare-and-set on /config (index = mod_revision), or a plain put without index. */
  setConfig(value: Record<string, unknown>, index?: string): Promise<boolean>;
  setFailover(value: Record<string, unknown>, index?: string): Promise<boolean>;
  /** GET <api_url> of a member (2 s, no retries), as in the leader race. */
  probeMember(member: Member): Promise<PeerStatus>;
  /** Run the HA decisions now instead of at the next loop (after /config or /failover writes). */
  wake(): void;
  /** SIGHUP semantics: re-read the configuration file and apply it. */
  reload(): void;
  restart(request: RestartRequest): Promise<ActionResult>;
  cancelScheduledRestart(): Promise<ActionResult>;
  reinitialize(force: boolean): Promise<ActionResult>;
}
