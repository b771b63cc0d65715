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
