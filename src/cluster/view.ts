/**
 * The immutable picture of one cluster as the DCS holds it, rebuilt on every DCS change.
 * Field names follow Patroni's `Cluster` object so that readers of Patroni's docs find
 * their way; values are already parsed (LSNs as byte counts, JSON decoded).
 */
import { pausedIn } from '../config/dynamic.ts';

/** Role strings as they go on the wire in Patroni 3.0.x (the primary is still `master`). */
export type WireRole = 'master' | 'replica' | 'standby_leader' | 'demoted' | 'uninitialized' | 'promoted';

/** Value of `/members/<name>` (compact JSON). Unknown fields written by other tools are kept. */
export interface MemberData {
  conn_url: string;
  api_url: string;
  state: string;
  role: WireRole;
  version: string;
  xlog_location?: number;
  timeline?: number;
  replication_state?: string;
  tags?: Record<string, unknown>;
  pending_restart?: boolean;
  scheduled_restart?: Record<string, unknown>;
  checkpoint_after_promote?: boolean;
  pause?: boolean;
  [extra: string]: unknown;
}

export interface Member {
  name: string;
  /** etcd mod_revision of the member key (Patroni's `index`). */
  index: string;
  /** Lease id the key is attached to, or null. */
  session: string | null;
  data: MemberData;
}

export interface Leader {
  name: string;
  index: string;
  session: string | null;
}

export interface ClusterConfig {
  index: string;
  data: Record<string, unknown>;
}

export interface Failover {
  index: string;
  leader?: string;
  member?: string;
  scheduled_at?: string;
}

export interface SyncState {
  index: string;
  leader: string | null;
  sync_standby: string[];
}

export interface Status {
  optime: number;
  slots?: Record<string, number>;
}

/** `[timeline, switch_lsn, reason, timestamp, new_leader]` */
export type HistoryLine = [number, number, string, string?, string?];

export interface ClusterView {
  /** etcd header revision the view was assembled at. */
  revision: string;
  /** null: key absent; "": bootstrap in progress; otherwise the system identifier. */
  initialize: string | null;
  config: ClusterConfig | null;
  leader: Leader | null;
  /** Sorted by name. */
  members: readonly Member[];
  failover: Failover | null;
  sync: SyncState | null;
  status: Status | null;
  history: readonly HistoryLine[] | null;
  /**
   * /failsafe: the members the leader last named `{name: api_url}` for failsafe mode (null: no
   * key, or not a JSON object).
   */
  failsafe?: Readonly<Record<string, string>> | null;
}

export const emptyClusterView: ClusterView = Object.freeze({
  revision: '0',
  initialize: null,
  config: null,
  leader: null,
  members: Object.freeze([]),
  failover: null,
  sync: null,
  status: null,
  history: null,
});

export function memberByName(view: ClusterView, name: string): Member | undefined {
  return view.members.find((m) => m.name === name);
}

export function leaderMember(view: ClusterView): Member | undefined {
  return view.leader ? memberByName(view, view.leader.name) : undefined;
}

/** Timeline of the cluster as Patroni derives it from /history: last line + 1, `[]` → 1, absent → 0. */
/** Maintenance mode (/config `pause`): the one reading, for the agent, the REST API and the CLI. */
export function isPaused(view: ClusterView | null): boolean {
  return pausedIn(view?.config?.data);
}

export function clusterTimeline(view: ClusterView): number {
  if (!view.history) return 0;
  if (view.history.length === 0) return 1;
  return view.history[view.history.length - 1]![0] + 1;
}
