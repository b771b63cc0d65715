/**
 * Which replication slots the duties machine (leader-duties.ts) gives PostgreSQL — the plan of
 * cluster/replication-slots.ts: as the leader (a primary, or a standby cluster's standby leader)
 * every member's slot and the permanent ones; as a running standby, one per member that
 * replicates from it — and when a standby's are due.
 */
import type { PostgresStatus } from '../cluster/postgres-state.ts';
import { type SlotPlan, slotPlan, slotPlanKey } from '../cluster/replication-slots.ts';
import { isStandbySection } from '../cluster/standby-cluster.ts';
import type { ClusterView } from '../cluster/view.ts';

/** The last plan computed: the guards and actions of one step ask for the same view. */
let last: {
  view: ClusterView;
  me: string;
  leading: boolean;
  useSlots: boolean;
  plan: SlotPlan;
  key: string;
} | null = null;

/** The slots the members need from us on `view` (as leader, or as a standby), and their key. */
export function slotsOn(
  view: ClusterView | null,
  me: string,
  leading: boolean,
  useSlots: boolean,
): { plan: SlotPlan; key: string } {
  if (!view) return { plan: { physical: [], logical: [], ignore: [] }, key: '' };
  if (last?.view === view && last.me === me && last.leading === leading && last.useSlots === useSlots)
    return last;
  const plan = slotPlan(view, me, leading, useSlots);
  last = { view, me, leading, useSlots, plan, key: slotPlanKey(plan) };
  return last;
}

const isStandby = (s: PostgresStatus | null): boolean => s?.running === true && s.inRecovery;

/**
 * A running standby whose slots are not the ones last given: its cascaders' (or, as the leader of
 * a standby cluster, every member's and the permanent physical ones). PostgreSQL gets them (and
 * loses the inactive ones no longer wanted, a former leader's members' included). A forced
 * publication (every loop_wait) is no reason on a standby: it would be one more query per loop
 * on every replica of an idle cluster.
 */
export function standbySlotsDue(
  me: string,
  e: {
    isLeader: boolean;
    status: PostgresStatus | null;
    view: ClusterView | null;
    useSlots: boolean;
  },
  slotsGiven: string,
): boolean {
  if (!e.view || !isStandby(e.status)) return false;
  // A leader still in recovery elsewhere is being promoted: its slots come with the primary's duties.
  if (e.isLeader && !isStandbySection(e.view.config?.data['standby_cluster'])) return false;
  return slotsOn(e.view, me, e.isLeader, e.useSlots).key !== slotsGiven;
}
