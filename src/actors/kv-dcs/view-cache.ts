/**
 * The watched copies of the cluster's keys, and our own writes applied to them at once (as
 * Patroni does) so that a node sees what it wrote before the watch brings it back. Deleted keys
 * stay as tombstones so that a late watch event for an older revision cannot resurrect a key we
 * already deleted ourselves.
 */
import type { ClusterView } from '../../cluster/view.ts';
import { buildClusterView, type KvRecord, type WatchEvent } from '../../transport/etcd-keys.ts';

const cmpRev = (a: string, b: string): number => {
  const d = BigInt(a) - BigInt(b);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
};

type Entry = KvRecord & { deleted?: boolean };

/** The watched copy of the prefix. */
export class ViewCache {
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

/** Every watched copy of one DCS client, each with the listener that hears of its changes. */
export class WatchedViews {
  private readonly caches = new Set<ViewCache>();
  private readonly emitters = new Map<ViewCache, () => void>();

  add(cache: ViewCache, emit: () => void): void {
    this.caches.add(cache);
    this.emitters.set(cache, emit);
  }

  delete(cache: ViewCache): void {
    this.caches.delete(cache);
    this.emitters.delete(cache);
  }

  /** A copy in sync with etcd, if any. */
  synced(): ViewCache | undefined {
    return [...this.caches].find((c) => c.synced);
  }

  // Own writes go straight into every watched cache (Patroni does the same).

  private applyOwn(event: WatchEvent, revision: string): void {
    for (const cache of this.caches)
      if (cache.synced && cache.apply(event, revision)) this.emitters.get(cache)?.();
  }

  applyOwnPut(key: string, value: string, lease: string | undefined, revision: string): void {
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

  applyOwnDelete(key: string, revision: string): void {
    this.applyOwn(
      { type: 'delete', kv: { key, value: '', lease: '0', modRevision: revision, createRevision: '0' } },
      revision,
    );
  }
}
