/**
 * GET /failover-plan's one I/O step: every member's status as it answers now (this node's own
 * from its report, read as a peer would read it), then the pure plan (src/cluster/failover-plan.ts).
 */

import type { PeerStatus } from '../cluster/eligibility.ts';
import { type FailoverPlan, failoverPlan } from '../cluster/failover-plan.ts';
import { type NodeReport, statusDocument } from '../cluster/report.ts';
import type { Member } from '../cluster/view.ts';
import { parsePeerDocument, unreachablePeer } from '../transport/peer-client.ts';
import type { NodeCore } from './core.ts';

export type PlanHost = Pick<NodeCore, 'view' | 'settings' | 'config'> & {
  report(): NodeReport;
  probeMember(member: Member): Promise<PeerStatus>;
};

/** How long one plan answers every GET /failover-plan (its probes ask every member). */
const PLAN_REUSE_MS = 1000;

/**
 * GET /failover-plan is open like Patroni's GETs, and each plan asks every member: requests are
 * answered from one round of probes at a time, reused for a second, so that no caller can make
 * this node probe its peers faster than that.
 */
export class FailoverPlans {
  private last: { at: number; plan: Promise<FailoverPlan | null> } | null = null;

  constructor(
    private readonly h: PlanHost,
    private readonly now: () => number,
  ) {}

  get(): Promise<FailoverPlan | null> {
    const now = this.now();
    if (!this.last || now - this.last.at >= PLAN_REUSE_MS || now < this.last.at) {
      const plan = planFailover(this.h);
      this.last = { at: now, plan };
      // A plan still being made is shared too; one that failed is not kept.
      plan.catch(() => {
        if (this.last?.plan === plan) this.last = null;
      });
    }
    return this.last.plan;
  }
}

/** Null: this node has no view of the DCS. */
export async function planFailover(h: PlanHost): Promise<FailoverPlan | null> {
  const view = h.view();
  if (!view) return null;
  const me = h.config().name;
  const statuses = await Promise.all(
    view.members.map((m) =>
      m.name === me
        ? (parsePeerDocument(me, statusDocument(h.report())) ?? unreachablePeer(m))
        : h.probeMember(m),
    ),
  );
  return failoverPlan(view, statuses, h.settings());
}
