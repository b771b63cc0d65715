/**
 * Which physical slots the duties machine (leader-duties.ts) gives PostgreSQL: as the leader (a
 * primary, or a standby cluster's standby leader), one per other member (desiredSlots); as a
 * running standby, one per member that replicates from it (cascadeSlots) — and when a standby's
 * are due.
 */
import type { PostgresStatus } from '../cluster/postgres-state.ts';
import { isStandbySection } from '../cluster/standby-cluster.ts';
import { cascadeSlots, desiredSlots } from '../cluster/topology.ts';
import type { ClusterView } from '../cluster/view.ts';

/** The last slots computed: the guards and actions of one step ask for the same view. */
let lastSlots: { view: ClusterView; me: string; leading: boolean; slots: string[]; key: string } | null =
  null;

/** The slots the members need from us on `view` (as leader, or as a standby), and their key (the names joined). */
export function slotsOn(
  view: ClusterView | null,
  me: string,
  leading: boolean,
): { slots: string[]; key: string } {
  if (!view) return { slots: [], key: '' };
  if (lastSlots?.view === view && lastSlots.me === me && lastSlots.leading === leading) return lastSlots;
  const slots = leading ? desiredSlots(view, me) : cascadeSlots(view, me);
  lastSlots = { view, me, leading, slots, key: slots.join(',') };
  return lastSlots;
}

const isStandby = (s: PostgresStatus | null): boolean => s?.running === true && s.inRecovery;

/**
 * A running standby, use_slots on, and the slots the members need from it are not the ones last
 * given: its cascaders' (cascadeSlots), or, as the leader of a standby cluster, every member's
 * (desiredSlots). PostgreSQL gets them (and loses the inactive ones no longer wanted, a former
 * leader's members' included). A forced publication (every loop_wait) is no reason on a standby:
 * it would be one more query per loop on every replica of an idle cluster.
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
  if (!e.useSlots || !e.view || !isStandby(e.status)) return false;
  // A leader still in recovery elsewhere is being promoted: its slots come with the primary's duties.
  if (e.isLeader && !isStandbySection(e.view.config?.data['standby_cluster'])) return false;
  return slotsOn(e.view, me, e.isLeader).key !== slotsGiven;
}
