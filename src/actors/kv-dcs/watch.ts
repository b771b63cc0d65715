/**
 * The watch on the cluster's prefix: a full read, then etcd's watch from the next revision,
 * every change applied to a watched copy and the listener told when anything visible changed;
 * on any break the copy goes out of sync and the read and watch start again with a growing
 * backoff, until stopped. Listeners run inside gRPC callbacks, so nothing they throw escapes.
 */
import type { ClusterView } from '../../cluster/view.ts';
import type { Kv } from '../../transport/etcd-keys.ts';
import type { Clock } from '../clock.ts';
import type { BoundedCalls } from './calls.ts';
import { ViewCache, type WatchedViews } from './view-cache.ts';

const WATCH_BACKOFF_MIN_MS = 100;
const WATCH_BACKOFF_MAX_MS = 2000;

/** What a watch needs of its DCS client. */
export interface WatchHost {
  prefix: string;
  kv: Kv;
  calls: BoundedCalls;
  clock: Clock;
  log: (msg: string) => void;
  views: WatchedViews;
  /** Every running watch's stop, for close(). */
  stoppers: Set<() => void>;
}

/** Watches `host.prefix`; answers the function that stops the watch. */
export function watchCluster(
  host: WatchHost,
  onView: (view: ClusterView) => void,
  onError?: (err: Error) => void,
): () => void {
  const cache = new ViewCache();
  let stopped = false;
  let cancelWatch: (() => void) | null = null;
  let timer: unknown = null;
  let backoff = WATCH_BACKOFF_MIN_MS;
  const emit = () => {
    if (stopped) return;
    try {
      onView(cache.view(host.prefix));
    } catch (err) {
      // It may run inside a gRPC stream callback, where a throw would crash the process.
      host.log(`watch listener failed: ${(err as Error)?.message ?? String(err)}`);
    }
  };
  const report = (err: Error) => {
    if (stopped) return;
    host.log(`watch on ${host.prefix} broke: ${err.message}; retrying in ${backoff} ms`);
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
    timer = host.clock.setTimeout(start, backoff);
    backoff = Math.min(backoff * 2, WATCH_BACKOFF_MAX_MS);
  };
  const start = async () => {
    timer = null;
    if (stopped) return;
    let revision: string;
    try {
      const res = await host.calls.call('watch range', (o) => host.kv.range(host.prefix, true, o));
      if (stopped) return;
      cache.reset(res.kvs, res.revision);
      revision = res.revision;
    } catch (err) {
      retry(err as Error);
      return;
    }
    emit();
    cancelWatch = host.kv.watch(
      host.prefix,
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
    if (timer !== null) host.clock.clearTimeout(timer);
    cancelWatch?.();
    host.views.delete(cache);
    host.stoppers.delete(stop);
  };
  host.views.add(cache, emit);
  host.stoppers.add(stop);
  void start();
  return stop;
}
