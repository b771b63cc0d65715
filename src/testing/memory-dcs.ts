/**
 * An in-memory etcd (global revision, per-key create/mod revisions, leases expiring on an
 * injected clock, compare transactions, ordered prefix watches) and `MemoryDcs`, which runs
 * the very same Patroni logic as EtcdDcs (`KvDcs`) on top of it. Used by unit tests and the
 * simulator; faults (unavailability, latency) are injected on the store.
 */

import { type Clock, systemClock } from '../actors/clock.ts';
import { DcsError } from '../actors/dcs.ts';
import { KvDcs, type KvDcsOptions } from '../actors/kv-dcs/index.ts';
import {
  type Kv,
  type KvCallOptions,
  type KvRecord,
  LeaseNotFoundError,
  type Txn,
  type TxnOp,
  type TxnResult,
  type WatchEvent,
} from '../transport/etcd-keys.ts';

interface StoredLease {
  ttl: number;
  timer: unknown;
  keys: Set<string>;
}

interface Plan {
  succeeded: boolean;
  ops: Array<{ op: TxnOp; nested: Plan | null }>;
}

interface Watcher {
  prefix: string;
  queue: Array<{ events: WatchEvent[]; revision: string }>;
  onEvents: (events: WatchEvent[], revision: string) => void;
  onError: (err: Error) => void;
}

export interface MemoryEtcdOptions {
  clock?: Clock;
  /** Delay in ms of every client call and watch delivery (on the clock). */
  latencyMs?: number;
}

export class MemoryEtcd {
  readonly clock: Clock;
  latencyMs: number;
  private revision = 1;
  private nextLeaseId = 0x694d7a1b00000000n;
  private readonly data = new Map<string, KvRecord>();
  private readonly leases = new Map<string, StoredLease>();
  private readonly watchers = new Set<Watcher>();
  /** Every change ever made, so watches can start from an older revision. */
  private readonly history: Array<{ revision: number; events: WatchEvent[] }> = [];
  private available = true;

  constructor(opts: MemoryEtcdOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.latencyMs = opts.latencyMs ?? 0;
  }

  /**
   * While false, every client call rejects with DcsError and open watches break: etcd has lost
   * its quorum (or every member is down). Only an etcd leader expires leases, so none expires
   * meanwhile; the leader elected when the quorum returns gives every lease its full ttl again
   * (etcd's lessor Promote), so keys that were alive at the outage outlive it by a ttl.
   */
  setAvailable(available: boolean): void {
    if (available === this.available) return;
    this.available = available;
    if (!available) {
      for (const lease of this.leases.values()) {
        if (lease.timer !== null) this.clock.clearTimeout(lease.timer);
        lease.timer = null;
      }
      for (const w of [...this.watchers]) {
        this.watchers.delete(w);
        w.onError(new DcsError('etcd unavailable'));
      }
    } else {
      for (const [id, lease] of this.leases) this.arm(id, lease);
    }
  }

  isAvailable(): boolean {
    return this.available;
  }

  currentRevision(): string {
    return String(this.revision);
  }

  /** Direct read for tests; bypasses faults. */
  get(key: string): KvRecord | undefined {
    return this.data.get(key);
  }

  keys(prefix = ''): string[] {
    return [...this.data.keys()].filter((k) => k.startsWith(prefix)).sort();
  }

  leaseTtl(id: string): number | undefined {
    return this.leases.get(id)?.ttl;
  }

  // -------------------------------------------------------------------------------------------
  // Synchronous core, one revision per mutating call (like etcd).

  range(key: string, prefix: boolean): { kvs: KvRecord[]; revision: string } {
    const kvs = prefix
      ? [...this.data.values()]
          .filter((kv) => kv.key.startsWith(key))
          .sort((a, b) => (a.key < b.key ? -1 : 1))
      : [this.data.get(key)].filter((kv): kv is KvRecord => kv !== undefined);
    return { kvs: kvs.map((kv) => ({ ...kv })), revision: String(this.revision) };
  }

  put(key: string, value: string, lease?: string): string {
    return this.txn({ compare: [], success: [{ put: { key, value, lease } }] }).revision;
  }

  delete(key: string): string {
    return this.txn({ compare: [], success: [{ delete: { key } }] }).revision;
  }

  txn(txn: Txn): TxnResult {
    // etcd evaluates every compare, nested ones included, against the state before the txn.
    const plan = this.plan(txn);
    this.checkLeases(plan);
    const events: WatchEvent[] = [];
    const next = this.revision + 1;
    const result = this.execute(plan, next, events);
    if (events.length > 0) this.commit(next, events);
    return this.withRevision(result, String(this.revision));
  }

  private withRevision(r: TxnResult, revision: string): TxnResult {
    return {
      succeeded: r.succeeded,
      revision,
      nested: r.nested.map((n) => n && this.withRevision(n, revision)),
    };
  }

  private plan(txn: Txn): Plan {
    const succeeded = txn.compare.every((c) => this.matches(c));
    const ops = succeeded ? txn.success : (txn.failure ?? []);
    return { succeeded, ops: ops.map((op) => ({ op, nested: 'txn' in op ? this.plan(op.txn) : null })) };
  }

  private checkLeases(plan: Plan): void {
    for (const { op, nested } of plan.ops) {
      if ('put' in op && op.put.lease && op.put.lease !== '0' && !this.leases.has(op.put.lease)) {
        throw new LeaseNotFoundError('etcdserver: requested lease not found');
      }
      if (nested) this.checkLeases(nested);
    }
  }

  private matches(c: Txn['compare'][number]): boolean {
    const kv = this.data.get(c.key);
    if (c.target === 'value') return kv !== undefined && kv.value === c.equals;
    const rev = kv ? (c.target === 'create' ? kv.createRevision : kv.modRevision) : '0';
    return rev === c.equals;
  }

  private execute(plan: Plan, rev: number, events: WatchEvent[]): TxnResult {
    const nested = plan.ops.map(({ op, nested }) => {
      if (nested) return this.execute(nested, rev, events);
      if ('put' in op) this.putKey(op.put, rev, events);
      else if ('delete' in op) this.deleteKey(op.delete.key, rev, events);
      return null;
    });
    return { succeeded: plan.succeeded, revision: String(rev), nested };
  }

  private putKey(
    put: { key: string; value: string; lease?: string },
    rev: number,
    events: WatchEvent[],
  ): void {
    const { key, value } = put;
    const lease = put.lease && put.lease !== '0' ? put.lease : '0';
    const old = this.data.get(key);
    if (old && old.lease !== '0') this.leases.get(old.lease)?.keys.delete(key);
    const kv: KvRecord = {
      key,
      value,
      lease,
      modRevision: String(rev),
      createRevision: old ? old.createRevision : String(rev),
    };
    this.data.set(key, kv);
    if (lease !== '0') this.leases.get(lease)?.keys.add(key);
    events.push({ type: 'put', kv: { ...kv } });
  }

  private deleteKey(key: string, rev: number, events: WatchEvent[]): void {
    const old = this.data.get(key);
    if (!old) return;
    if (old.lease !== '0') this.leases.get(old.lease)?.keys.delete(key);
    this.data.delete(key);
    events.push({
      type: 'delete',
      kv: { key, value: '', lease: '0', modRevision: String(rev), createRevision: '0' },
    });
  }

  private commit(rev: number, events: WatchEvent[]): void {
    this.revision = rev;
    this.history.push({ revision: rev, events });
    for (const w of this.watchers) this.deliver(w, events, String(rev));
  }

  private deliver(w: Watcher, events: WatchEvent[], revision: string): void {
    const mine = events.filter((e) => e.kv.key.startsWith(w.prefix));
    if (mine.length === 0) return;
    w.queue.push({ events: mine, revision });
    // Whichever timer fires, it takes the oldest batch: order holds even if the clock
    // runs equal-time timers out of order.
    const flush = () => {
      if (!this.watchers.has(w)) return;
      const batch = w.queue.shift();
      if (batch) w.onEvents(batch.events, batch.revision);
    };
    if (this.latencyMs > 0) this.clock.setTimeout(flush, this.latencyMs);
    else queueMicrotask(flush);
  }

  // -------------------------------------------------------------------------------------------
  // Leases.

  leaseGrant(ttl: number): string {
    const id = (this.nextLeaseId++).toString();
    const lease: StoredLease = { ttl, timer: null, keys: new Set() };
    this.leases.set(id, lease);
    this.arm(id, lease);
    return id;
  }

  private arm(id: string, lease: StoredLease): void {
    if (lease.timer !== null) this.clock.clearTimeout(lease.timer);
    lease.timer = this.clock.setTimeout(() => this.leaseRevoke(id), lease.ttl * 1000);
  }

  leaseKeepAlive(id: string): number {
    const lease = this.leases.get(id);
    if (!lease) return 0;
    this.arm(id, lease);
    return lease.ttl;
  }

  /** Deletes the lease and all its keys in one revision, as etcd does on expiry. */
  leaseRevoke(id: string): boolean {
    const lease = this.leases.get(id);
    if (!lease) return false;
    if (lease.timer !== null) this.clock.clearTimeout(lease.timer);
    this.leases.delete(id);
    const events: WatchEvent[] = [];
    const rev = this.revision + 1;
    for (const key of [...lease.keys].sort()) this.deleteKey(key, rev, events);
    if (events.length > 0) this.commit(rev, events);
    return true;
  }

  // -------------------------------------------------------------------------------------------
  // Watches.

  watch(
    prefix: string,
    startRevision: string,
    onEvents: (events: WatchEvent[], revision: string) => void,
    onError: (err: Error) => void,
  ): () => void {
    const w: Watcher = { prefix, queue: [], onEvents, onError };
    this.watchers.add(w);
    const from = Number(startRevision);
    for (const h of this.history) if (h.revision >= from) this.deliver(w, h.events, String(h.revision));
    return () => {
      this.watchers.delete(w);
    };
  }

  /** A client connection; each node gets its own. */
  client(): Kv {
    return new MemoryKv(this);
  }
}

/** One node's connection: applies faults and latency, then calls the store. */
class MemoryKv implements Kv {
  private readonly cancels = new Set<() => void>();
  private closed = false;

  constructor(private readonly store: MemoryEtcd) {}

  private async call<T>(fn: () => T, _opts: KvCallOptions): Promise<T> {
    if (this.closed) throw new DcsError('client closed');
    if (!this.store.isAvailable()) throw new DcsError('etcd unavailable');
    const latency = this.store.latencyMs;
    if (latency > 0) {
      await new Promise<void>((resolve) => this.store.clock.setTimeout(() => resolve(), latency));
      if (!this.store.isAvailable()) throw new DcsError('etcd unavailable');
    }
    return fn();
  }

  range(key: string, prefix: boolean, opts: KvCallOptions) {
    return this.call(() => this.store.range(key, prefix), opts);
  }

  put(key: string, value: string, lease: string | undefined, opts: KvCallOptions) {
    return this.call(() => this.store.put(key, value, lease), opts);
  }

  delete(key: string, opts: KvCallOptions) {
    return this.call(() => this.store.delete(key), opts);
  }

  txn(txn: Txn, opts: KvCallOptions) {
    return this.call(() => this.store.txn(txn), opts);
  }

  leaseGrant(ttl: number, opts: KvCallOptions) {
    return this.call(() => this.store.leaseGrant(ttl), opts);
  }

  leaseRevoke(id: string, opts: KvCallOptions) {
    return this.call(() => this.store.leaseRevoke(id), opts);
  }

  leaseKeepAlive(id: string, opts: KvCallOptions) {
    return this.call(() => this.store.leaseKeepAlive(id), opts);
  }

  watch(
    prefix: string,
    startRevision: string,
    onEvents: (events: WatchEvent[], revision: string) => void,
    onError: (err: Error) => void,
  ): () => void {
    let cancel: (() => void) | null = null;
    let done = false;
    const stop = () => {
      done = true;
      cancel?.();
      this.cancels.delete(stop);
    };
    this.cancels.add(stop);
    // Opening a watch is asynchronous in etcd too; failing it later keeps callers honest.
    queueMicrotask(() => {
      if (done) return;
      if (this.closed || !this.store.isAvailable()) {
        stop();
        onError(new DcsError('etcd unavailable'));
        return;
      }
      cancel = this.store.watch(prefix, startRevision, onEvents, (err) => {
        if (done) return;
        stop();
        onError(err);
      });
    });
    return stop;
  }

  close(): void {
    this.closed = true;
    for (const stop of [...this.cancels]) stop();
  }
}

export interface MemoryDcsOptions extends KvDcsOptions {
  store: MemoryEtcd;
}

export class MemoryDcs extends KvDcs {
  constructor(opts: MemoryDcsOptions) {
    super(opts.store.client(), { clock: opts.store.clock, ...opts });
  }
}
