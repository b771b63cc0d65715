/**
 * One node's connection to the shared in-memory etcd, with the node's faults applied: a dead
 * node's calls fail at once, a node cut off from the DCS gets no answer (its client times
 * out, as over a real partition), a flaky connection answers some calls with the errors the
 * real client path produces (before etcd applied them, or after), and a frozen node sees
 * answers only after thaw.
 */
import { DcsError } from '../actors/dcs.ts';
import { KvTransientError } from '../actors/kv-dcs/index.ts';
import type { Kv, KvCallOptions, Txn, WatchEvent } from '../transport/etcd-keys.ts';
import type { MemoryEtcd } from './memory-dcs.ts';
import type { NodeClock } from './node-clock.ts';

/**
 * A flaky etcd as one node sees it: a fraction of its calls fail, each call waits up to
 * `latencyMs` more. Which calls fail, how, and the delays come from `random` (seeded).
 */
export interface DcsFlakiness {
  /** Fraction of calls (and of watch deliveries) that fail, 0..1. */
  rate: number;
  /** Each call waits a random 0..latencyMs more (on the cluster's clock). */
  latencyMs: number;
  random: () => number;
}

/**
 * What EtcdKv (etcd-dcs.ts) hands KvDcs when a call fails. etcd answers "no leader", "leader
 * changed", "request timed out" with gRPC UNAVAILABLE, as grpc-js does a reset or refused
 * connection: etcd3 casts those to GRPCUnavailableError and mapError to KvTransientError, which
 * KvDcs retries within retry_timeout. A deadline or "too many requests" stays a plain error,
 * which KvDcs turns into a DcsError without retrying. UNAVAILABLE does not prove that etcd did
 * not apply the request: a proposal that timed out, a leader change after the commit, a
 * connection reset before the answer all leave it applied.
 */
const FAILED_BEFORE: ReadonlyArray<() => Error> = [
  () => new KvTransientError('14 UNAVAILABLE: etcdserver: no leader'),
  () => new KvTransientError('14 UNAVAILABLE: etcdserver: leader changed'),
  () => new KvTransientError('14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED'),
  () => new Error('8 RESOURCE_EXHAUSTED: etcdserver: too many requests'),
  () => new Error('4 DEADLINE_EXCEEDED: Deadline exceeded'),
];
const FAILED_AFTER: ReadonlyArray<() => Error> = [
  () => new KvTransientError('14 UNAVAILABLE: etcdserver: request timed out'),
  () => new KvTransientError('14 UNAVAILABLE: etcdserver: leader changed'),
  () => new KvTransientError('14 UNAVAILABLE: read ECONNRESET'),
  () => new Error('4 DEADLINE_EXCEEDED: Deadline exceeded'),
];

export interface NodeLink {
  /** The agent process is gone. */
  dead(): boolean;
  /** The node cannot reach the DCS. */
  cutFromDcs(): boolean;
  /** The node's connection is flaky (null: it is not). */
  flaky?(): DcsFlakiness | null;
}

export class NodeKv implements Kv {
  private readonly inner: Kv;
  private readonly watches = new Set<{ fail: (err: Error) => void; stop: () => void }>();

  constructor(
    private readonly store: MemoryEtcd,
    private readonly clock: NodeClock,
    private readonly link: NodeLink,
  ) {
    this.inner = store.client();
  }

  private delay(ms: number): Promise<void> {
    return ms <= 0 ? Promise.resolve() : new Promise((r) => this.store.clock.setTimeout(() => r(), ms));
  }

  /** A call through a flaky connection: delayed, and failed before or after etcd applied it. */
  private async flakyCall<T>(f: DcsFlakiness, fn: () => Promise<T>): Promise<T> {
    const r = f.random();
    const pick = (errors: ReadonlyArray<() => Error>) => errors[Math.floor(f.random() * errors.length)]!();
    const wait = Math.floor(f.random() * (f.latencyMs + 1));
    if (r < f.rate / 2) {
      await this.delay(wait);
      throw pick(FAILED_BEFORE);
    }
    const result = await fn();
    await this.delay(wait);
    if (r < f.rate) throw pick(FAILED_AFTER);
    return result;
  }

  /** The node lost the DCS: open watches break. */
  breakWatches(): void {
    for (const w of [...this.watches]) w.fail(new DcsError('etcd unreachable'));
  }

  private call<T>(fn: () => Promise<T>): Promise<T> {
    if (this.link.dead()) return Promise.reject(new DcsError('client closed'));
    // No answer: the caller's own timeout decides (the request never reached etcd).
    if (this.link.cutFromDcs()) return new Promise<T>(() => {});
    const f = this.link.flaky?.() ?? null;
    return this.clock.gate(f && (f.rate > 0 || f.latencyMs > 0) ? this.flakyCall(f, fn) : fn());
  }

  range(key: string, prefix: boolean, opts: KvCallOptions) {
    return this.call(() => this.inner.range(key, prefix, opts));
  }

  put(key: string, value: string, lease: string | undefined, opts: KvCallOptions) {
    return this.call(() => this.inner.put(key, value, lease, opts));
  }

  delete(key: string, opts: KvCallOptions) {
    return this.call(() => this.inner.delete(key, opts));
  }

  txn(txn: Txn, opts: KvCallOptions) {
    return this.call(() => this.inner.txn(txn, opts));
  }

  leaseGrant(ttl: number, opts: KvCallOptions) {
    return this.call(() => this.inner.leaseGrant(ttl, opts));
  }

  leaseKeepAlive(id: string, opts: KvCallOptions) {
    return this.call(() => this.inner.leaseKeepAlive(id, opts));
  }

  leaseRevoke(id: string, opts: KvCallOptions) {
    return this.call(() => this.inner.leaseRevoke(id, opts));
  }

  watch(
    prefix: string,
    startRevision: string,
    onEvents: (events: WatchEvent[], revision: string) => void,
    onError: (err: Error) => void,
  ): () => void {
    let done = false;
    let cancel: () => void = () => {};
    const entry = {
      fail: (err: Error) => {
        if (done) return;
        done = true;
        cancel();
        this.watches.delete(entry);
        this.clock.run(() => onError(err));
      },
      stop: () => {
        done = true;
        cancel();
        this.watches.delete(entry);
      },
    };
    this.watches.add(entry);
    if (this.link.dead() || this.link.cutFromDcs()) {
      queueMicrotask(() => entry.fail(new DcsError('etcd unreachable')));
      return entry.stop;
    }
    cancel = this.inner.watch(
      prefix,
      startRevision,
      (events, revision) => {
        if (done) return;
        // A flaky connection breaks the stream now and then (the events are lost with it; the
        // client reads the prefix again when it reopens the watch).
        const f = this.link.flaky?.() ?? null;
        if (f && f.rate > 0 && f.random() < f.rate / 2) {
          entry.fail(new KvTransientError('14 UNAVAILABLE: read ECONNRESET'));
          return;
        }
        this.clock.run(() => !done && onEvents(events, revision));
      },
      (err) => entry.fail(err),
    );
    return entry.stop;
  }

  close(): void {
    for (const w of [...this.watches]) w.stop();
    this.inner.close();
  }
}
