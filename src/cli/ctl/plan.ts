/**
 * `pgwarden plan [cluster]`: GET /failover-plan from the leader (else any member that answers),
 * shown as a headline — who would take over if the leader died now, and the data it could lack
 * — and a table of every member with why it would or would not.
 */
import type { ClusterView, Member } from '../../cluster/view.ts';
import { CliError } from '../errors.ts';
import type { Format } from './choices.ts';
import type { CtlContext } from './context.ts';
import { type Cell, formatOutput } from './format.ts';

export const PLAN_COLUMNS = ['Member', 'Role', 'Takes over', 'TL', 'Lag in MB', 'Why'];

interface PlanJson {
  leader: string | null;
  candidates: string[];
  max_data_loss_bytes: number | null;
  synchronous_mode: boolean;
  members: Array<{
    name: string;
    role: string;
    takes_over: boolean;
    reason: string;
    timeline: number | null;
    lag_bytes: number | null;
  }>;
}

/** The leader first, then the others: whoever answers first with a plan. */
function askOrder(view: ClusterView): Member[] {
  const leader = view.members.filter((m) => m.name === view.leader?.name);
  return [...leader, ...view.members.filter((m) => m.name !== view.leader?.name)].filter(
    (m) => m.data.api_url,
  );
}

export async function runPlan(ctx: CtlContext, cluster: string, fmt: Format): Promise<void> {
  const view = await ctx.cluster(cluster);
  let plan: PlanJson | null = null;
  for (const m of askOrder(view)) {
    try {
      const r = await ctx.rest.call(m, 'GET', 'failover-plan');
      if (r.status !== 200) continue;
      plan = JSON.parse(r.text) as PlanJson;
      break;
    } catch {
      // the next member
    }
  }
  if (!plan) throw new CliError(`No member of ${cluster} answered GET /failover-plan`, 1);
  const rows: Cell[][] = plan.members.map((m) => [
    m.name,
    m.role === 'leader' ? 'Leader' : 'Replica',
    m.takes_over ? 'yes' : 'no',
    m.timeline ?? '',
    m.lag_bytes === null ? 'unknown' : Math.round((m.lag_bytes / 1048576) * 10) / 10,
    m.reason,
  ]);
  if (fmt === 'pretty') ctx.echo(headline(plan));
  ctx.echo(formatOutput(PLAN_COLUMNS, rows, { fmt, align: { TL: 'r', 'Lag in MB': 'r' } }));
}

function headline(plan: PlanJson): string {
  if (plan.leader === null) return 'No leader now: nothing to plan for.';
  const who = plan.candidates;
  if (who.length === 0) return `If ${plan.leader} died now, nobody would take over.`;
  const names = who.length === 1 ? who[0] : `the first of ${who.join(', ')} to take the lock`;
  const loss =
    plan.max_data_loss_bytes === 0
      ? plan.synchronous_mode
        ? 'no acknowledged commit lost (synchronous mode)'
        : 'no WAL lost'
      : plan.max_data_loss_bytes === null
        ? 'data loss unknown'
        : `up to ${plan.max_data_loss_bytes} bytes of WAL lost`;
  return `If ${plan.leader} died now: ${names} would take over, ${loss}.`;
}
