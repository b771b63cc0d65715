/**
 * An Operations double for REST tests: a cluster view you set, writes recorded, actions
 * scripted. Switchover and failover requests run the production manualFailover machine on these
 * fakes (its DCS read, member probes and /failover write), on `clock`, shown the views given to
 * viewChanged.
 */
import { type Clock, systemClock } from '../../src/actors/clock.ts';
import type { DcsEdit, EditAnswer } from '../../src/cluster/dcs-edits.ts';
import type { EligibilitySettings, PeerStatus } from '../../src/cluster/eligibility.ts';
import { type FailoverPlan, failoverPlan } from '../../src/cluster/failover-plan.ts';
import { type ClusterView, emptyClusterView, type Member } from '../../src/cluster/view.ts';
import type { ActionResult, Operations, RestartRequest } from '../../src/http/operations.ts';
import type { ManualFailoverInput } from '../../src/machines/manual-failover.ts';
import { DcsEdits } from '../../src/runtime/dcs-edits.ts';
import { ManualFailovers } from '../../src/runtime/manual-failovers.ts';
import { provideActors } from '../../src/runtime/provide.ts';

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
  /** The clock the switchover requests wait on. */
  clock: Clock = systemClock;
  private readonly clockOfTest: Clock = {
    now: () => this.clock.now(),
    setTimeout: (fn, ms) => this.clock.setTimeout(fn, ms),
    clearTimeout: (id) => this.clock.clearTimeout(id),
  };
  private readonly manual = new ManualFailovers({
    clock: this.clockOfTest,
    readCluster: () => this.getCluster(),
    probeMember: (member) => this.probeMember(member),
    writeFailover: (value) => this.setFailover(value),
    wake: () => this.wake(),
    provide: provideActors,
  });

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
  /** Edits run the production dcsEdit machine against this fake's view and writes. */
  private readonly edits = new DcsEdits({
    clock: this.clockOfTest,
    dcs: this,
    wake: () => this.wake(),
    provide: provideActors,
  });
  editDcs(edit: DcsEdit): Promise<EditAnswer> {
    return this.edits.run(edit);
  }
  manualFailover(request: ManualFailoverInput): Promise<ActionResult> {
    return this.manual.run(request);
  }
  /** The DCS watch delivered `view` (the switchover requests waiting look at it). */
  viewChanged(view: ClusterView): void {
    this.manual.viewChanged(view);
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
  /** GET /failover-plan: the pure plan on `view`, the peers set and these settings. */
  planSettings: EligibilitySettings = {
    maximum_lag_on_failover: 1048576,
    check_timeline: true,
    synchronous_mode: false,
  };
  async failoverPlan(): Promise<FailoverPlan | null> {
    if (this.view === emptyClusterView) return null;
    const statuses = await Promise.all(this.view.members.map((m) => this.probeMember(m)));
    return failoverPlan(this.view, statuses, this.planSettings);
  }

  /** POST /failsafe: whether failsafe mode is on, and what each leader's request is answered. */
  failsafeOn = false;
  failsafeCalls: string[] = [];
  failsafeAnswer: ActionResult = { status: 200, text: 'Accepted' };
  failsafeMode(): boolean {
    return this.failsafeOn;
  }
  failsafe(name: string): ActionResult {
    this.failsafeCalls.push(name);
    return this.failsafeAnswer;
  }

  async reinitialize(force: boolean): Promise<ActionResult> {
    this.reinits.push(force);
    return this.reinitResult;
  }
}
