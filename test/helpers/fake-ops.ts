/** An Operations double for REST tests: a cluster view you set, writes recorded, actions scripted. */
import type { PeerStatus } from '../../src/cluster/eligibility.ts';
import { type ClusterView, emptyClusterView, type Member } from '../../src/cluster/view.ts';
import type { ActionResult, Operations, RestartRequest } from '../../src/http/operations.ts';

export class FakeOps implements Operations {
  view: ClusterView = emptyClusterView;
  writes: Array<{ key: 'config' | 'failover'; value: Record<string, unknown>; index?: string }> = [];
  /** Make the next compare-and-set fail (a concurrent writer). */
  casFails = false;
  peers = new Map<string, PeerStatus>();
  wakes = 0;
  reloads = 0;
  restarts: RestartRequest[] = [];
  reinits: boolean[] = [];
  restartResult: ActionResult = { status: 200, text: 'restarted successfully' };
  reinitResult: ActionResult = { status: 200, text: 'reinitialize started' };
  cancelResult: ActionResult = { status: 404, text: 'no restarts are scheduled' };

  async getCluster(): Promise<ClusterView> {
    return this.view;
  }
  async setConfig(value: Record<string, unknown>, index?: string): Promise<boolean> {
    if (index !== undefined && this.casFails) return false;
    this.writes.push({ key: 'config', value, index });
    return true;
  }
  async setFailover(value: Record<string, unknown>, index?: string): Promise<boolean> {
    if (index !== undefined && this.casFails) return false;
    this.writes.push({ key: 'failover', value, index });
    return true;
  }
  async probeMember(member: Member): Promise<PeerStatus> {
    return (
      this.peers.get(member.name) ?? {
        name: member.name,
        reachable: false,
        inRecovery: true,
        walPosition: null,
        timeline: null,
        nofailover: false,
        watchdogFailed: false,
      }
    );
  }
  wake(): void {
    this.wakes++;
  }
  reload(): void {
    this.reloads++;
  }
  async restart(request: RestartRequest): Promise<ActionResult> {
    this.restarts.push(request);
    return this.restartResult;
  }
  async cancelScheduledRestart(): Promise<ActionResult> {
    return this.cancelResult;
  }
  async reinitialize(force: boolean): Promise<ActionResult> {
    this.reinits.push(force);
    return this.reinitResult;
  }
}
