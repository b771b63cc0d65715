/**
 * Patroni's DCS semantics for etcd v3, written once against the small `Kv` contract so that the
 * etcd backends (etcd-dcs.ts, gRPC; etcd-gateway.ts, JSON) and the in-memory one share the
 * same leader/member logic: the leader key (acquire, refresh on our lease, delete), the member key,
 * and the cluster-wide keys (/initialize, /config, /failover, /sync, /status, /history) with
 * Patroni's compare-and-set rules. Kept free of etcd3 so the in-memory backend never loads gRPC.
 */
import type { ClusterView, HistoryLine, MemberData, Status } from '../../cluster/view.ts';
import {
  buildClusterView,
  encodeFailover,
  encodeHistory,
  encodeMember,
  encodeStatus,
  encodeSync,
  KEYS,
  type Kv,
  type KvRecord,
  LeaseNotFoundError,
  pyJson,
  type Txn,
  type TxnOp,
} from '../../transport/etcd-keys.ts';
import { type Clock, systemClock } from '../clock.ts';
import { clusterPrefix, type Dcs } from '../dcs.ts';
import { BoundedCalls } from './calls.ts';
import { LeaseKeeper } from './lease.ts';
import { deleteClusterKeys } from './remove.ts';
import { WatchedViews } from './view-cache.ts';
import { watchCluster } from './watch.ts';

export interface KvDcsOptions {
  namespace: string;
  scope: string;
  retryTimeoutSeconds: number;
  clock?: Clock;
  log?: (msg: string) => void;
}

export class KvDcs implements Dcs {
  readonly prefix: string;
  protected readonly clock: Clock;
  private readonly log: (msg: string) => void;
  /** Every kv call, within the retry budget. */
  private readonly calls: BoundedCalls;
  /** Our lease, and the one our leader key rides on. */
  private readonly keeper: LeaseKeeper;
  private lastMember: { key: string; value: string; lease: string } | null = null;
  private readonly views = new WatchedViews();
  private readonly stoppers = new Set<() => void>();

  constructor(
    protected readonly kv: Kv,
    opts: KvDcsOptions,
  ) {
    this.prefix = clusterPrefix(opts.namespace, opts.scope);
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? (() => {});
    this.calls = new BoundedCalls(this.clock, opts.retryTimeoutSeconds);
    this.keeper = new LeaseKeeper(kv, this.calls, this.clock, this.log);
  }

  private key(rel: string): string {
    return this.prefix + rel;
  }

  /** The id of this node's lease, null when none is held. */
  leaseId(): string | null {
    return this.keeper.lease;
  }

  /**
   * Clock time at which the last grant or keepalive that etcd acknowledged was sent: the
   * lease lives at least ttl from then (etcd restarts the TTL on receipt, which is later).
   */
  lastLeaseRefresh(): number | null {
    return this.keeper.lastRefresh;
  }

  leaderWriteSentAt(): number | null {
    return this.keeper.leaderWriteSent;
  }

  leaseAgeMs(): number {
    return this.keeper.leaseAgeMs();
  }

  /** Dynamic retry_timeout: the budget of every call from now on. */
  setRetryTimeout(seconds: number): void {
    this.calls.setRetryTimeout(seconds);
  }

  setTtl(ttl: number): void {
    this.keeper.setTtl(ttl);
  }

  leaseTtlSeconds(): number {
    return this.keeper.leaseTtl;
  }

  ensureLease(ttl: number): Promise<string> {
    return this.keeper.ensure(ttl);
  }

  refreshLease(): Promise<boolean> {
    return this.keeper.refresh();
  }

  freshLease(ttl: number): Promise<void> {
    return this.keeper.fresh(ttl);
  }

  private async put(rel: string, value: string, lease?: string, deadline?: number): Promise<boolean> {
    const key = this.key(rel);
    const rev = await this.calls.call(`put ${rel}`, (o) => this.kv.put(key, value, lease, o), deadline);
    this.views.applyOwnPut(key, value, lease, rev);
    return true;
  }

  /** Put guarded by the key's mod_revision when `index` is given (Patroni's `index`). */
  private async casPut(rel: string, value: string, index?: string): Promise<boolean> {
    if (index === undefined) return this.put(rel, value);
    const key = this.key(rel);
    const res = await this.calls.call(`cas ${rel}`, (o) =>
      this.kv.txn(
        { compare: [{ key, target: 'mod', equals: index }], success: [{ put: { key, value } }] },
        o,
      ),
    );
    if (res.succeeded) this.views.applyOwnPut(key, value, undefined, res.revision);
    return res.succeeded;
  }

  // ---- Leader key ----------------------------------------------------------------------------

  async attemptToAcquireLeader(name: string): Promise<boolean> {
    const key = this.key(KEYS.leader);
    return this.keeper.onLease(async (lease, deadline) => {
      const txn: Txn = {
        compare: [{ key, target: 'create', equals: '0' }],
        success: [{ put: { key, value: name, lease } }],
      };
      this.keeper.writingLeader();
      const res = await this.calls.call('acquire leader', (o) => this.kv.txn(txn, o), deadline);
      if (res.succeeded) {
        this.views.applyOwnPut(key, name, lease, res.revision);
        this.keeper.leaderWritten(lease);
      }
      return res.succeeded;
    }, true);
  }

  private async cachedLeader(deadline: number): Promise<KvRecord | undefined> {
    const key = this.key(KEYS.leader);
    const synced = this.views.synced();
    if (synced) return synced.get(key);
    const { kvs } = await this.calls.call('get leader', (o) => this.kv.range(key, false, o), deadline);
    return kvs[0];
  }

  async updateLeader(
    name: string,
    opts: { recreate?: boolean; ttl?: number; failsafe?: boolean; write?: boolean; rotate?: boolean } = {},
  ): Promise<boolean> {
    if (opts.ttl !== undefined) this.keeper.setTtl(opts.ttl);
    const deadline = this.calls.deadline();
    // The keepalive proves the lease the key rides on is still ours, always: a lease granted now
    // proves nothing (a thawed old leader's refresh once re-created the key on a fresh lease,
    // long after its own had expired and another node had led and acknowledged commits).
    // In failsafe mode the proof is the members' confirmation, within its ttl: none of them has
    // raced, so the key, expired while etcd was out of reach, goes back on a fresh lease — only
    // where it is absent (Patroni puts it back whatever is there).
    // A lease granted in this very refresh: the only one a vanished key may go back on.
    let fresh = false;
    // The lease this call proved alive or granted: not re-read from the keeper after an await,
    // where another call may have replaced it.
    let lease = this.keeper.lease;
    if (!(await this.keeper.keepalive(deadline))) {
      if (!opts.failsafe || opts.recreate === false) return false;
      lease = await this.keeper.grant(deadline);
      fresh = true;
    }
    // A new ttl, or a new short-lease term (its members changed, or some gave it up): the key
    // moves onto a new lease now, in this refresh (the old lease, no longer kept alive, expires
    // by itself).
    if (opts.rotate || this.keeper.leaseTtl !== this.keeper.ttl) {
      lease = await this.keeper.grant(deadline);
      fresh = true;
    }
    const current = await this.cachedLeader(deadline);
    // The key is gone (an operator, or etcd expired it): it goes back on a new lease, never on
    // the one we had. With fast failover a member may have removed it by a proof and be about to
    // revoke that lease: put back on it, the key would be deleted again by the revoke after a
    // reclaim had trusted it (two holders; found by a review). On a new lease, a put-back that
    // lands after a removal makes the remover's acquisition fail; one that lands after another's
    // acquisition fails itself.
    if (!current && opts.recreate !== false && !fresh) {
      lease = await this.keeper.grant(deadline);
      fresh = true;
    }
    if (lease === null) return false;
    // With the short lease on, every refresh writes the key: its new mod revision is what tells
    // a candidate counting the leader's silence that it renewed (src/cluster/short-lease.ts).
    if (!opts.write && current && current.value === name && current.lease === lease) {
      this.keeper.leaderWritten(lease);
      return true;
    }
    const key = this.key(KEYS.leader);
    const put: TxnOp = { put: { key, value: name, lease } };
    const txn: Txn = {
      compare: [{ key, target: 'value', equals: name }],
      success: [put],
      failure:
        opts.recreate === false || !fresh
          ? []
          : [{ txn: { compare: [{ key, target: 'create', equals: '0' }], success: [put] } }],
    };
    try {
      this.keeper.writingLeader();
      const res = await this.calls.call('update leader', (o) => this.kv.txn(txn, o), deadline);
      const ok = res.succeeded || res.nested[0]?.succeeded === true;
      if (ok) {
        this.views.applyOwnPut(key, name, lease, res.revision);
        this.keeper.leaderWritten(lease);
      }
      return ok;
    } catch (err) {
      if (!(err instanceof LeaseNotFoundError)) throw err;
      this.keeper.forget(lease);
      return false;
    }
  }

  async deleteLeader(name: string, lastLsn?: number): Promise<boolean> {
    const deadline = this.calls.deadline();
    if (lastLsn !== undefined)
      await this.put(KEYS.status, encodeStatus({ optime: lastLsn }), undefined, deadline);
    const key = this.key(KEYS.leader);
    const txn: Txn = { compare: [{ key, target: 'value', equals: name }], success: [{ delete: { key } }] };
    const res = await this.calls.call('delete leader', (o) => this.kv.txn(txn, o), deadline);
    if (res.succeeded) {
      this.views.applyOwnDelete(key, res.revision);
      this.keeper.leaderLease = null;
    }
    return res.succeeded;
  }

  async removeStaleLeader(leader: { name: string; index: string; session: string | null }): Promise<boolean> {
    const deadline = this.calls.deadline();
    const key = this.key(KEYS.leader);
    const txn: Txn = {
      compare: [
        { key, target: 'value', equals: leader.name },
        { key, target: 'mod', equals: leader.index },
      ],
      success: [{ delete: { key } }],
    };
    const res = await this.calls.call('remove stale leader', (o) => this.kv.txn(txn, o), deadline);
    if (!res.succeeded) return false;
    this.views.applyOwnDelete(key, res.revision);
    // Its member key goes with it; an old holder that wakes finds no lease to put the key back on.
    if (leader.session !== null) {
      const session = leader.session;
      await this.calls
        .call('revoke stale lease', (o) => this.kv.leaseRevoke(session, o), deadline)
        .catch(() => false);
    }
    return true;
  }

  // ---- Member and cluster-wide keys ----------------------------------------------------------

  async touchMember(name: string, data: MemberData): Promise<boolean> {
    const rel = KEYS.members + name;
    const key = this.key(rel);
    const value = encodeMember(data);
    // A lease etcd expired meanwhile (an outage longer than the ttl): a new one and once more,
    // or the key would stay away until something else grants one — and the leader's absent
    // member key leaves every replica with nobody to follow.
    return this.keeper.onLease(async (lease, deadline) => {
      const last = this.lastMember;
      const unchanged = last?.key === key && last.value === value && last.lease === lease;
      // Skipped only when etcd, as the watch shows it, still has it as we wrote it (Patroni
      // compares with the cluster it read): our memory of the last write says nothing of a key
      // etcd dropped with an expired lease.
      const cached = this.views.synced();
      const cacheAgrees = cached?.get(key)?.value === value && cached.get(key)?.lease === lease;
      if (unchanged && cacheAgrees) return true;
      await this.put(rel, value, lease, deadline);
      this.lastMember = { key, value, lease };
      return true;
    });
  }

  async initialize(): Promise<boolean> {
    const key = this.key(KEYS.initialize);
    const res = await this.calls.call('initialize', (o) =>
      this.kv.txn(
        { compare: [{ key, target: 'create', equals: '0' }], success: [{ put: { key, value: '' } }] },
        o,
      ),
    );
    if (res.succeeded) this.views.applyOwnPut(key, '', undefined, res.revision);
    return res.succeeded;
  }

  setInitialize(sysid: string): Promise<boolean> {
    return this.put(KEYS.initialize, sysid);
  }

  async cancelInitialization(): Promise<boolean> {
    const key = this.key(KEYS.initialize);
    const rev = await this.calls.call('cancel initialization', (o) => this.kv.delete(key, o));
    this.views.applyOwnDelete(key, rev);
    return true;
  }

  setConfig(value: Record<string, unknown>, index?: string): Promise<boolean> {
    return this.casPut(KEYS.config, pyJson(value), index);
  }

  setFailover(value: Record<string, unknown>, index?: string): Promise<boolean> {
    return this.casPut(KEYS.failover, encodeFailover(value), index);
  }

  /**
   * Only the holder of the leader key may change /sync: a deposed leader that has not yet
   * noticed (frozen, partitioned) must not name itself there again, or the one node allowed to
   * take over could be a stale one. Without an index the key must not exist yet.
   */
  async setSyncState(
    leader: string | null,
    syncStandby: readonly string[],
    index?: string,
  ): Promise<boolean> {
    const key = this.key(KEYS.sync);
    const value = encodeSync(leader, syncStandby);
    const compare: Txn['compare'] = [
      index === undefined ? { key, target: 'create', equals: '0' } : { key, target: 'mod', equals: index },
    ];
    if (leader !== null) compare.push({ key: this.key(KEYS.leader), target: 'value', equals: leader });
    const res = await this.calls.call('cas sync', (o) =>
      this.kv.txn({ compare, success: [{ put: { key, value } }] }, o),
    );
    if (res.succeeded) this.views.applyOwnPut(key, value, undefined, res.revision);
    return res.succeeded;
  }

  async deleteSyncState(index?: string): Promise<boolean> {
    const key = this.key(KEYS.sync);
    const res = await this.calls.call('delete sync', (o) =>
      this.kv.txn(
        {
          compare: index === undefined ? [] : [{ key, target: 'mod', equals: index }],
          success: [{ delete: { key } }],
        },
        o,
      ),
    );
    if (res.succeeded) this.views.applyOwnDelete(key, res.revision);
    return res.succeeded;
  }

  setStatus(status: Status): Promise<boolean> {
    return this.put(KEYS.status, encodeStatus(status));
  }

  setHistory(history: readonly HistoryLine[]): Promise<boolean> {
    return this.put(KEYS.history, encodeHistory(history));
  }

  setFailsafe(topology: Readonly<Record<string, string>>): Promise<boolean> {
    // Compact, as Patroni writes it (json.dumps with separators=(',', ':')).
    return this.put(KEYS.failsafe, JSON.stringify(topology));
  }

  async getCluster(): Promise<ClusterView> {
    const { kvs, revision } = await this.calls.call('get cluster', (o) =>
      this.kv.range(this.prefix, true, o),
    );
    return buildClusterView(this.prefix, kvs, revision);
  }

  /** patronictl remove: every key of the cluster (kv-dcs/remove.ts). */
  deleteCluster(): Promise<void> {
    return deleteClusterKeys(this.kv, this.calls, this.prefix);
  }

  watch(onView: (view: ClusterView) => void, onError?: (err: Error) => void): () => void {
    const { prefix, kv, calls, clock, log, views, stoppers } = this;
    return watchCluster({ prefix, kv, calls, clock, log, views, stoppers }, onView, onError);
  }

  async close(): Promise<void> {
    for (const stop of [...this.stoppers]) stop();
    this.calls.close();
    this.kv.close();
  }
}
