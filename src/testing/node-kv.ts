/**
 * One node's connection to the shared in-memory etcd, with the node's faults applied: a dead
 * node's calls fail at once, a node cut off from the DCS gets no answer (its client times
 * out, as over a real partition), and a frozen node sees answers only after thaw.
 */
import { DcsError } from '../actors/dcs.ts';
import type { MemoryEtcd } from '../actors/memory-dcs.ts';
import type { Kv, KvCallOptions, Txn, WatchEvent } from '../transport/etcd-keys.ts';
import type { NodeClock } from './node-clock.ts';

export interface NodeLink {
  /** The agent process is gone. */
  dead(): boolean;
  /** The node cannot reach the DCS. */
  cutFromDcs(): boolean;
}

export class NodeKv implements Kv {
  private readonly inner: Kv;
  private readonly watches = new Set<{ fail: (err: Error) => void; stop: () => void }>();

  constructor(
    store: MemoryEtcd,
    private readonly clock: NodeClock,
    private readonly link: NodeLink,
  ) {
    this.inner = store.client();
  }

  /** The node lost the DCS: open watches break. */
  breakWatches(): void {
    for (const w of [...this.watches]) w.fail(new DcsError('etcd unreachable'));
  }

  private call<T>(fn: () => Promise<T>): Promise<T> {
    if (this.link.dead()) return Promise.reject(new DcsError('client closed'));
    // No answer: the caller's own timeout decides (the request never reached etcd).
    if (this.link.cutFromDcs()) return new Promise<T>(() => {});
    return this.clock.gate(fn());
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
        if (!done) this.clock.run(() => !done && onEvents(events, revision));
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
