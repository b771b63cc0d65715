/**
 * The dozen primitives every DCS backend offers (after Patroni's AbstractDCS). The etcd v3
 * implementation lives in etcd-dcs.ts, the in-memory one (for unit tests and the simulator)
 * in src/testing/memory-dcs.ts; machines only ever see the results as events.
 *
 * Every method is bounded by the backend's retry timeout and rejects with DcsError when the
 * DCS cannot be reached; `false` means "reached, but the compare failed".
 */
import type { ClusterView, HistoryLine, MemberData, Status } from '../cluster/view.ts';

export class DcsError extends Error {
  override name = 'DcsError';
}

export interface Dcs {
  /** Dynamic retry_timeout: how long any one call may take (retries included). */
  setRetryTimeout(seconds: number): void;
  /**
   * Dynamic ttl: leases granted from now on get `ttl` seconds. The lease our leader key rides on
   * is replaced only by the leader's own refresh (updateLeader), which moves the key onto the new
   * lease in the same step: a lease granted behind the election's back would not be kept alive
   * on its schedule, and the key on the old one would be neither.
   */
  setTtl(ttl: number): void;
  /** The ttl (s) of the lease in use: what etcd keeps the key alive for after a keepalive. */
  leaseTtlSeconds(): number;
  /** A lease with `ttl` seconds (granted unless ours already has it, or carries our leader key); returns its id. */
  ensureLease(ttl: number): Promise<string>;
  /** Keeps the lease alive. Resolves false when the lease is gone (expired or revoked). */
  refreshLease(): Promise<boolean>;
  /** Keeps the lease alive now, or grants a new one when it is gone: a key put on it next gets a whole ttl. */
  freshLease(ttl: number): Promise<void>;
  /** ms since the last acknowledged grant or keepalive was sent (Infinity: none yet). */
  leaseAgeMs(): number;
  /**
   * Steady ms when this node last sent a write of its leader key (null: never): the short lease
   * is renewed from there, since a candidate counts the key's silence from the revision it writes.
   */
  leaderWriteSentAt(): number | null;
  /** Create `leader` = name on this node's lease, only if no leader key exists (create_revision == 0). */
  attemptToAcquireLeader(name: string): Promise<boolean>;
  /**
   * Lease keepalive, then re-attach the leader key if it is on another lease; with `recreate`
   * (the holder's refresh) also create it when it is absent. False: we are not leader any more.
   * With `ttl` different from our lease's, the key moves onto a new lease of that ttl instead.
   * With `failsafe` (every member confirmed us while etcd was out of reach), a lease etcd no
   * longer knows is replaced by a fresh one and the key created on it where it is absent.
   * With `write` (the short lease), the key is written even when unchanged: a new mod revision;
   * with `rotate`, it moves onto a new lease (a new short-lease term).
   */
  updateLeader(
    name: string,
    opts?: { recreate?: boolean; ttl?: number; failsafe?: boolean; write?: boolean; rotate?: boolean },
  ): Promise<boolean>;
  /**
   * The short lease's early takeover: deletes the leader key only if it is still the one the
   * proof is about (same holder, same mod revision), then revokes its lease so that the old
   * holder cannot put it back. Resolves false when the key changed meanwhile (nothing deleted).
   */
  removeStaleLeader(leader: { name: string; index: string; session: string | null }): Promise<boolean>;
  /** Compare-and-delete of our own leader key; optionally writes /status optime first. */
  deleteLeader(name: string, lastLsn?: number): Promise<boolean>;
  /** Write /members/<name> on our lease (skipped when unchanged). */
  touchMember(name: string, data: MemberData): Promise<boolean>;
  /** Create /initialize = "" if absent: the bootstrap race. */
  initialize(): Promise<boolean>;
  /** Plain put of /initialize = system identifier. */
  setInitialize(sysid: string): Promise<boolean>;
  /** Delete /initialize after a failed bootstrap. */
  cancelInitialization(): Promise<boolean>;
  /** Put /config; with `index`, only if its mod_revision still equals it. */
  setConfig(value: Record<string, unknown>, index?: string): Promise<boolean>;
  setFailover(value: Record<string, unknown>, index?: string): Promise<boolean>;
  setStatus(status: Status): Promise<boolean>;
  /** /sync = {leader, sync_standby}; with `index`, only if its mod_revision still equals it. */
  setSyncState(leader: string | null, syncStandby: readonly string[], index?: string): Promise<boolean>;
  /** Drop /sync (synchronous mode turned off); with `index`, compare-and-delete. */
  deleteSyncState(index?: string): Promise<boolean>;
  setHistory(history: readonly HistoryLine[]): Promise<boolean>;
  /** /failsafe = the members the leader names for failsafe mode (`{name: api_url}`, compact JSON). */
  setFailsafe(topology: Readonly<Record<string, string>>): Promise<boolean>;
  /** Fresh read of the whole prefix. */
  getCluster(): Promise<ClusterView>;
  /**
   * Range + watch on the scope prefix; calls `onView` with a new immutable view after every
   * change (and once at start), `onError` when the watch breaks (it reconnects by itself).
   * Returns a function that stops watching.
   */
  watch(onView: (view: ClusterView) => void, onError?: (err: Error) => void): () => void;
  /** Stop everything. The lease is *not* revoked (Patroni lets member keys expire). */
  close(): Promise<void>;
}

/** Where a scope's keys live: `/<namespace>/<scope>/`. */
export function clusterPrefix(namespace: string, scope: string): string {
  return `/${namespace}/${scope}/`.replace(/\/+/g, '/');
}
