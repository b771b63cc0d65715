/**
 * Patroni's DCS semantics for etcd v3, written once against the small `Kv` contract so that
 * the real etcd backend (etcd-dcs.ts) and the in-memory one (memory-dcs.ts) share the same
 * leader/member logic. Kept free of etcd3 so the in-memory backend never loads gRPC.
 */

import type { ClusterView, HistoryLine, MemberData, Status } from '../cluster/view.ts';
import {
  buildClusterView,
  encodeFailover,
  encodeHistory,
  encodeMember,
  encodeStatus,
  encodeSync,
  KEYS,
  type Kv,
  type KvCallOptions,
  type KvRecord,
  LeaseNotFoundError,
  pyJson,
  type Txn,
  type TxnOp,
  type WatchEvent,
} from '../transport/etcd-keys.ts';
import { type Clock, monotonicNow, systemClock } from './clock.ts';
import { clusterPrefix, type Dcs, DcsError } from './dcs.ts';

export interface KvDcsOptions {
  namespace: string;
  scope: string;
  retryTimeoutSeconds: number;
  clock?: Clock;
  log?: (msg: string) => void;
}

/** A backend failure worth retrying within the retry budget (nothing reached etcd). */
export class KvTransientError extends Error {
  override name = 'KvTransientError';
}

const WATCH_BACKOFF_MIN_MS = 100;
const WATCH_BACKOFF_MAX_MS = 2000;
const RETRY_PAUSE_MS = 100;

const cmpRev = (a: string, b: string): number => {
  const d = BigInt(a) - BigInt(b);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
};

type Entry = KvRecord & { deleted?: boolean };

/**
 * The watched copy of the prefix. Deleted keys stay as tombstones so that a late watch event
 * for an older revision cannot resurrect a key we already deleted ourselves.
 */
class ViewCache {
  private readonly entries = new Map<string, Entry>();
  private revision = '0';
  synced = false;

  reset(kvs: readonly KvRecord[], revision: string): void {
    this.entries.clear();
    for (const kv of kvs) this.entries.set(kv.key, kv);
    this.revision = revision;
    this.synced = true;
  }

  /** Returns whether anything visible changed. */
  apply(event: WatchEvent, revision: string): boolean {
    if (cmpRev(revision, this.revision) > 0) this.revision = revision;
    const old = this.entries.get(event.kv.key);
    if (old && cmpRev(old.modRevision, event.kv.modRevision) >= 0) return false;
    if (event.type === 'delete') {
      this.entries.set(event.kv.key, { ...event.kv, value: '', lease: '0', deleted: true });
      return old !== undefined && !old.deleted;
    }
    this.entries.set(event.kv.key, event.kv);
    return true;
  }

  get(key: string): KvRecord | undefined {
    const e = this.entries.get(key);
    return e && !e.deleted ? e : undefined;
  }

  view(prefix: string): ClusterView {
    const live = [...this.entries.values()].filter((e) => !e.deleted);
    return buildClusterView(prefix, live, this.revision);
  }
}

export class KvDcs implements Dcs {
  readonly prefix: string;
  protected readonly clock: Clock;
  private readonly log: (msg: string) => void;
  private retryTimeoutMs: number;
  /** The ttl new leases get (dynamic `ttl`). */
  private ttl = 30;
  private lease: string | null = null;
  private leaseTtl = 0;
  /** The lease our leader key was last written on by us; null when we do not hold the key. */
  private leaderLease: string | null = null;
  private lastRefresh: number | null = null;
  private lastMember: { key: string; value: string; lease: string } | null = null;
  private readonly caches = new Set<ViewCache>();
  private readonly emitters = new Map<ViewCache, () => void>();
  private readonly stoppers = new Set<() => void>();
  private closed = false;

  constructor(
    protected readonly kv: Kv,
    opts: KvDcsOptions,
  ) {
    this.prefix = clusterPrefix(opts.namespace, opts.scope);
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? (() => {});
    this.retryTimeoutMs = opts.retryTimeoutSeconds * 1000;
  }

  private key(rel: string): string {
    return this.prefix + rel;
  }

  /** The id of this node's lease, null when none is held. */
  leaseId(): string | null {
    return this.lease;
  }

  /**
   * Clock time at which the last grant or keepalive that etcd acknowledged was sent: the
   * lease lives at least ttl from then (etcd restarts the TTL on receipt, which is later).
   */
  lastLeaseRefresh(): number | null {
    return this.lastRefresh;
  }

  leaseAgeMs(): number {
    return this.lastRefresh === null ? Number.POSITIVE_INFINITY : monotonicNow(this.clock) - this.lastRefresh;
  }

  /** Dynamic retry_timeout: the budget of every call from now on. */
  setRetryTimeout(seconds: number): void {
    this.retryTimeoutMs = seconds * 1000;
  }

  setTtl(ttl: number): void {
    this.ttl = ttl;
  }

  leaseTtlSeconds(): number {
    return this.leaseTtl;
  }

  /** Our lease unless a new ttl wants a new one — except the lease our leader key rides on. */
  private usableLease(): string | null {
    const lease = this.lease;
    return lease !== null && (this.leaseTtl === this.ttl || lease === this.leaderLease) ? lease : null;
  }

  // -------------------------------------------------------------------------------------------
  // Bounded calls.

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.clock.setTimeout(() => resolve(), ms));
  }

  private withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = this.clock.setTimeout(
        () => reject(new DcsError(`${what}: no answer within ${this.retryTimeoutMs} ms`)),
        ms,
      );
      p.then(
        (v) => {
          this.clock.clearTimeout(timer);
          resolve(v);
        },
        (e: unknown) => {
          this.clock.clearTimeout(timer);
          reject(e);
        },
      );
    });
  }

  /** Operations made of several kv calls share one budget, as in Patroni. */
  private deadline(): number {
    return monotonicNow(this.clock) + this.retryTimeoutMs;
  }

  /**
   * Runs one kv call within the retry budget, retrying only failures that certainly did not
   * reach etcd. Everything else except LeaseNotFoundError becomes a DcsError.
   */
  private async call<T>(
    what: string,
    fn: (opts: KvCallOptions) => Promise<T>,
    deadline = this.deadline(),
  ): Promise<T> {
    if (this.closed) throw new DcsError(`${what}: client closed`);
    for (;;) {
      const remaining = deadline - monotonicNow(this.clock);
      try {
        if (remaining <= 0) throw new DcsError(`${what}: retry timeout exceeded`);
        return await this.withTimeout(fn({ timeoutMs: remaining }), remaining, what);
      } catch (err) {
        if (err instanceof LeaseNotFoundError || err instanceof DcsError) throw err;
        const left = deadline - monotonicNow(this.clock);
        if (err instanceof KvTransientError && left > RETRY_PAUSE_MS && !this.closed) {
          await this.sleep(RETRY_PAUSE_MS);
          continue;
        }
        throw new DcsError(`${what}: ${(err as Error)?.message ?? String(err)}`);
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Own writes go straight into every watched cache (Patroni does the same).

  private applyOwn(event: WatchEvent, revision: string): void {
    for (const cache of this.caches)
      if (cache.synced && cache.apply(event, revision)) this.emitters.get(cache)?.();
  }

  private applyOwnPut(key: string, value: string, lease: string | undefined, revision: string): void {
    const existing = [...this.caches].map((c) => c.get(key)).find(Boolean);
    this.applyOwn(
      {
        type: 'put',
        kv: {
          key,
          value,
          lease: lease ?? '0',
          modRevision: revision,
          createRevision: existing?.createRevision ?? revision,
        },
      },
      revision,
    );
  }

  private applyOwnDelete(key: string, revision: string): void {
    this.applyOwn(
      { type: 'delete', kv: { key, value: '', lease: '0', modRevision: revision, createRevision: '0' } },
      revision,
    );
  }

  private async put(rel: string, value: string, lease?: string, deadline?: number): Promise<boolean> {
    const key = this.key(rel);
    const rev = await this.call(`put ${rel}`, (o) => this.kv.put(key, value, lease, o), deadline);
    this.applyOwnPut(key, value, lease, rev);
    return true;
  }

  /** Put guarded by the key's mod_revision when `index` is given (Patroni's `index`). */
  private async casPut(rel: string, value: string, index?: string): Promise<boolean> {
    if (index === undefined) return this.put(rel, value);
    const key = this.key(rel);
    const res = await this.call(`cas ${rel}`, (o) =>
      this.kv.txn(
        { compare: [{ key, target: 'mod', equals: index }], success: [{ put: { key, value } }] },
        o,
      ),
    );
    if (res.succeeded) this.applyOwnPut(key, value, undefined, res.revision);
    return res.succeeded;
  }

  // -------------------------------------------------------------------------------------------
  // Lease.

  private async grant(deadline?: number): Promise<string> {
    const ttl = this.ttl;
    const sent = monotonicNow(this.clock);
    const id = await this.call('lease grant', (o) => this.kv.leaseGrant(ttl, o), deadline);
    this.lease = id;
    this.leaseTtl = ttl;
    this.lastRefresh = sent;
    this.log(`granted lease ${id} with ttl ${ttl}`);
    return id;
  }

  async ensureLease(ttl: number): Promise<string> {
    this.setTtl(ttl);
    return this.usableLease() ?? this.grant();
  }

  refreshLease(): Promise<boolean> {
    return this.keepalive(this.deadline());
  }

  async freshLease(ttl: number): Promise<void> {
    this.setTtl(ttl);
    const deadline = this.deadline();
    if (this.usableLease() && (await this.keepalive(deadline))) return;
    await this.grant(deadline);
  }

  private async keepalive(deadline: number): Promise<boolean> {
    const id = this.lease;
    if (!id) return false;
    const sent = monotonicNow(this.clock);
    const left = await this.call('lease keepalive', (o) => this.kv.leaseKeepAlive(id, o), deadline);
    if (left > 0) {
      if (this.lease === id) this.lastRefresh = sent;
      return true;
    }
    if (this.lease === id) this.lease = null;
    this.log(`lease ${id} is gone`);
    return false;
  }

  /** Runs `fn` on our lease; when etcd no longer knows it, grants a new one and tries once more. */
  private async onLease<T>(fn: (lease: string, deadline: number) => Promise<T>): Promise<T> {
    const deadline = this.deadline();
    const lease = this.usableLease() ?? (await this.grant(deadline));
    try {
      return await fn(lease, deadline);
    } catch (err) {
      if (!(err instanceof LeaseNotFoundError)) throw err;
      if (this.lease === lease) this.lease = null;
      return fn(await this.grant(deadline), deadline);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Leader key.

  async attemptToAcquireLeader(name: string): Promise<boolean> {
    const key = this.key(KEYS.leader);
    return this.onLease(async (lease, deadline) => {
      const txn: Txn = {
        compare: [{ key, target: 'create', equals: '0' }],
        success: [{ put: { key, value: name, lease } }],
      };
      const res = await this.call('acquire leader', (o) => this.kv.txn(txn, o), deadline);
      if (res.succeeded) {
        this.applyOwnPut(key, name, lease, res.revision);
        this.leaderLease = lease;
      }
      return res.succeeded;
    });
  }

  private async cachedLeader(deadline: number): Promise<KvRecord | undefined> {
    const key = this.key(KEYS.leader);
    const synced = [...this.caches].find((c) => c.synced);
    if (synced) return synced.get(key);
    const { kvs } = await this.call('get leader', (o) => this.kv.range(key, false, o), deadline);
    return kvs[0];
  }

  async updateLeader(name: string, opts: { recreate?: boolean; ttl?: number } = {}): Promise<boolean> {
    if (opts.ttl !== undefined) this.setTtl(opts.ttl);
    const deadline = this.deadline();
    // The keepalive proves the lease the key rides on is still ours, always: a lease granted now
    // proves nothing (a thawed old leader's refresh once re-created the key on a fresh lease,
    // long after its own had expired and another node had led and acknowledged commits).
    if (!(await this.keepalive(deadline))) return false;
    // A new ttl: the key moves onto a new lease now, in this refresh (the old lease, no longer
    // kept alive, expires by itself).
    if (this.leaseTtl !== this.ttl) await this.grant(deadline);
    const lease = this.lease!;
    const current = await this.cachedLeader(deadline);
    if (current && current.value === name && current.lease === lease) {
      this.leaderLease = lease;
      return true;
    }
    const key = this.key(KEYS.leader);
    const put: TxnOp = { put: { key, value: name, lease } };
    const txn: Txn = {
      compare: [{ key, target: 'value', equals: name }],
      success: [put],
      failure:
        opts.recreate === false
          ? []
          : [{ txn: { compare: [{ key, target: 'create', equals: '0' }], success: [put] } }],
    };
    try {
      const res = await this.call('update leader', (o) => this.kv.txn(txn, o), deadline);
      const ok = res.succeeded || res.nested[0]?.succeeded === true;
      if (ok) {
        this.applyOwnPut(key, name, lease, res.revision);
        this.leaderLease = lease;
      }
      return ok;
    } catch (err) {
      if (!(err instanceof LeaseNotFoundError)) throw err;
      if (this.lease === lease) this.lease = null;
      return false;
    }
  }

  async deleteLeader(name: string, lastLsn?: number): Promise<boolean> {
    const deadline = this.deadline();
    if (lastLsn !== undefined)
      await this.put(KEYS.status, encodeStatus({ optime: lastLsn }), undefined, deadline);
    const key = this.key(KEYS.leader);
    const txn: Txn = { compare: [{ key, target: 'value', equals: name }], success: [{ delete: { key } }] };
    const res = await this.call('delete leader', (o) => this.kv.txn(txn, o), deadline);
    if (res.succeeded) {
      this.applyOwnDelete(key, res.revision);
      this.leaderLease = null;
    }
    return res.succeeded;
  }

  // -------------------------------------------------------------------------------------------
  // Member and cluster-wide keys.

  async touchMember(name: string, data: MemberData): Promise<boolean> {
    const rel = KEYS.members + name;
    const key = this.key(rel);
    const value = encodeMember(data);
    const deadline = this.deadline();
    const lease = this.usableLease() ?? (await this.grant(deadline));
    const last = this.lastMember;
    const unchanged = last?.key === key && last.value === value && last.lease === lease;
    const cached = [...this.caches].find((c) => c.synced);
    const cacheAgrees = !cached || (cached.get(key)?.value === value && cached.get(key)?.lease === lease);
    if (unchanged && cacheAgrees) return true;
    try {
      await this.put(rel, value, lease, deadline);
    } catch (err) {
      if (!(err instanceof LeaseNotFoundError)) throw err;
      if (this.lease === lease) this.lease = null;
      return false;
    }
    this.lastMember = { key, value, lease };
    return true;
  }

  async initialize(): Promise<boolean> {
    const key = this.key(KEYS.initialize);
    const res = await this.call('initialize', (o) =>
      this.kv.txn(
        { compare: [{ key, target: 'create', equals: '0' }], success: [{ put: { key, value: '' } }] },
        o,
      ),
    );
    if (res.succeeded) this.applyOwnPut(key, '', undefined, res.revision);
    return res.succeeded;
  }

  setInitialize(sysid: string): Promise<boolean> {
    return this.put(KEYS.initialize, sysid);
  }

  async cancelInitialization(): Promise<boolean> {
    const key = this.key(KEYS.initialize);
    const rev = await this.call('cancel initialization', (o) => this.kv.delete(key, o));
    this.applyOwnDelete(key, rev);
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
    const res = await this.call('cas sync', (o) =>
      this.kv.txn({ compare, success: [{ put: { key, value } }] }, o),
    );
    if (res.succeeded) this.applyOwnPut(key, value, undefined, res.revision);
    return res.succeeded;
  }

  async deleteSyncState(index?: string): Promise<boolean> {
    const key = this.key(KEYS.sync);
    const res = await this.call('delete sync', (o) =>
      this.kv.txn(
        {
          compare: index === undefined ? [] : [{ key, target: 'mod', equals: index }],
          success: [{ delete: { key } }],
        },
        o,
      ),
    );
    if (res.succeeded) this.applyOwnDelete(key, res.revision);
    return res.succeeded;
  }

  setStatus(status: Status): Promise<boolean> {
    return this.put(KEYS.status, encodeStatus(status));
  }

  setHistory(history: readonly HistoryLine[]): Promise<boolean> {
    return this.put(KEYS.history, encodeHistory(history));
  }

  async getCluster(): Promise<ClusterView> {
    const { kvs, revision } = await this.call('get cluster', (o) => this.kv.range(this.prefix, true, o));
    return buildClusterView(this.prefix, kvs, revision);
  }

  // -------------------------------------------------------------------------------------------
  // Watch.

  watch(onView: (view: ClusterView) => void, onError?: (err: Error) => void): () => void {
    const cache = new ViewCache();
    let stopped = false;
    let cancelWatch: (() => void) | null = null;
    let timer: unknown = null;
    let backoff = WATCH_BACKOFF_MIN_MS;
    const emit = () => {
      if (stopped) return;
      try {
        onView(cache.view(this.prefix));
      } catch (err) {
        // It may run inside a gRPC stream callback, where a throw would crash the process.
        this.log(`watch listener failed: ${(err as Error)?.message ?? String(err)}`);
      }
    };
    const report = (err: Error) => {
      if (stopped) return;
      this.log(`watch on ${this.prefix} broke: ${err.message}; retrying in ${backoff} ms`);
      try {
        onError?.(err);
      } catch {
        // A throwing listener must not stop the reconnect loop.
      }
    };
    const retry = (err: Error) => {
      cache.synced = false;
      report(err);
      if (stopped) return;
      timer = this.clock.setTimeout(start, backoff);
      backoff = Math.min(backoff * 2, WATCH_BACKOFF_MAX_MS);
    };
    const start = async () => {
      timer = null;
      if (stopped) return;
      let revision: string;
      try {
        const res = await this.call('watch range', (o) => this.kv.range(this.prefix, true, o));
        if (stopped) return;
        cache.reset(res.kvs, res.revision);
        revision = res.revision;
      } catch (err) {
        retry(err as Error);
        return;
      }
      emit();
      cancelWatch = this.kv.watch(
        this.prefix,
        (BigInt(revision) + 1n).toString(),
        (events, rev) => {
          if (stopped) return;
          backoff = WATCH_BACKOFF_MIN_MS;
          let changed = false;
          for (const e of events) changed = cache.apply(e, rev) || changed;
          if (changed) emit();
        },
        (err) => {
          cancelWatch = null;
          retry(err);
        },
      );
    };
    const stop = () => {
      if (stopped) return;
      stopped = true;
      if (timer !== null) this.clock.clearTimeout(timer);
      cancelWatch?.();
      this.caches.delete(cache);
      this.emitters.delete(cache);
      this.stoppers.delete(stop);
    };
    this.caches.add(cache);
    this.emitters.set(cache, emit);
    this.stoppers.add(stop);
    void start();
    return stop;
  }

  async close(): Promise<void> {
    for (const stop of [...this.stoppers]) stop();
    this.closed = true;
    this.kv.close();
  }
}
