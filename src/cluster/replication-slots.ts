/**
 * The replication slots a node keeps (Patroni 3.0.2's get_replication_slots): one per member that
 * streams from it, and /config's permanent `slots`; `ignore_slots` names the slots no one drops.
 *
 * - The primary: every member's physical slot (use_slots), the permanent physical slots (even with
 *   use_slots off, as Patroni), and the permanent logical slots (use_slots).
 * - A standby cluster's leader: its members' slots and the permanent physical ones.
 * - A replica: a slot per member that cascades from it (replicatefrom). Patroni 3.0 also copies
 *   the permanent logical slots to replicas; pgwarden does not yet: after a failover the new
 *   primary creates them anew, at its current position (docs/patroni-differences.md).
 *
 * Read from /config leniently, as Patroni does: a slot it cannot use is left out, never an error.
 */
import { slotNameFromMemberName } from './postgres-state.ts';
import { isStandbySection } from './standby-cluster.ts';
import { cascadeSlots, desiredSlots } from './topology.ts';
import type { ClusterView } from './view.ts';

export interface LogicalSlot {
  name: string;
  database: string;
  plugin: string;
}

/** An `ignore_slots` entry: a slot matching every field given is never dropped. */
export interface SlotMatcher {
  name?: string;
  type?: string;
  database?: string;
  plugin?: string;
}

/** What PostgreSQL's slots on this node should be. */
export interface SlotPlan {
  /** Physical slots, by name (sorted). */
  physical: readonly string[];
  /** Logical slots to create if missing (pgwarden never drops a logical slot). */
  logical: readonly LogicalSlot[];
  /** Slots left alone even when unwanted. */
  ignore: readonly SlotMatcher[];
}

export const NO_SLOTS: SlotPlan = Object.freeze({ physical: [], logical: [], ignore: [] });

/** Patroni's slot_name_re: what a permanent slot may be called. */
const SLOT_NAME = /^[a-z0-9_]{1,63}$/;

type Dict = Record<string, unknown>;
const isDict = (v: unknown): v is Dict => typeof v === 'object' && v !== null && !Array.isArray(v);
const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/**
 * /config's `slots`: a name with no value (or `{type: physical}`) is physical; with a database and
 * a plugin (its type `logical` or left out), logical; anything else is left out.
 */
export function permanentSlots(data: Dict | null | undefined): {
  physical: string[];
  logical: LogicalSlot[];
} {
  const out = { physical: [] as string[], logical: [] as LogicalSlot[] };
  const slots = data?.['slots'];
  if (!isDict(slots)) return out;
  for (const [name, value] of Object.entries(slots)) {
    if (!SLOT_NAME.test(name)) continue;
    const v: Dict = isDict(value) ? value : {};
    if (value !== null && value !== undefined && !isDict(value)) continue;
    const database = text(v['database']);
    const plugin = text(v['plugin']);
    const type = v['type'] ?? (database && plugin ? 'logical' : 'physical');
    if (type === 'physical') out.physical.push(name);
    else if (type === 'logical' && database && plugin) out.logical.push({ name, database, plugin });
  }
  return out;
}

/** /config's `ignore_slots`: the entries that are mappings, with their string fields. */
export function ignoreMatchers(data: Dict | null | undefined): SlotMatcher[] {
  const list = data?.['ignore_slots'];
  if (!Array.isArray(list)) return [];
  return list.filter(isDict).map((m) => {
    const out: SlotMatcher = {};
    for (const k of ['name', 'type', 'database', 'plugin'] as const) {
      const v = text(m[k]);
      if (v !== undefined) out[k] = v;
    }
    return out;
  });
}

/** Whether an existing slot matches an ignore_slots entry (each field given must be equal). */
export function ignored(
  slot: { name: string; type: string; database: string | null; plugin: string | null },
  matchers: readonly SlotMatcher[],
): boolean {
  return matchers.some(
    (m) =>
      (m.name === undefined || m.name === slot.name) &&
      (m.type === undefined || m.type === slot.type) &&
      (m.database === undefined || m.database === slot.database) &&
      (m.plugin === undefined || m.plugin === slot.plugin),
  );
}

/** The slots node `me` keeps on `view`: as the leader (`leading`), or as a replica. */
export function slotPlan(view: ClusterView, me: string, leading: boolean, useSlots: boolean): SlotPlan {
  const data = view.config?.data;
  const physical = new Set(useSlots ? (leading ? desiredSlots(view, me) : cascadeSlots(view, me)) : []);
  const logical: LogicalSlot[] = [];
  if (leading) {
    const permanent = permanentSlots(data);
    const own = slotNameFromMemberName(me);
    for (const name of permanent.physical) if (name !== own) physical.add(name);
    // A standby cluster's leader cannot create logical slots (it is in recovery).
    if (useSlots && !isStandbySection(data?.['standby_cluster']))
      for (const slot of permanent.logical) if (!physical.has(slot.name)) logical.push(slot);
  }
  return { physical: [...physical].sort(), logical, ignore: ignoreMatchers(data) };
}

/**
 * One string for a plan, to tell whether it changed: the physical names alone for the common
 * plan (no permanent logical slot, nothing ignored), so the empty plan is ''.
 */
export function slotPlanKey(plan: SlotPlan): string {
  let key = plan.physical.join(',');
  if (plan.logical.length > 0)
    key += `|logical:${plan.logical.map((s) => `${s.name}/${s.database}/${s.plugin}`).join(',')}`;
  if (plan.ignore.length > 0) key += `|ignore:${JSON.stringify(plan.ignore)}`;
  return key;
}
