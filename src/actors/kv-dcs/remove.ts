/**
 * patronictl remove: every key under a cluster's prefix goes (Patroni's delete_cluster, a
 * prefix delete). Over the Kv contract: the keys read, then deleted in transactions of at most
 * 100 operations (etcd allows 128 per transaction by default), read again until none is left —
 * a member writing its key meanwhile is deleted on the next round, within a bounded number.
 */
import type { Kv } from '../../transport/etcd-keys.ts';
import type { BoundedCalls } from './calls.ts';

const OPS_PER_TXN = 100;
const ROUNDS = 5;

export async function deleteClusterKeys(kv: Kv, calls: BoundedCalls, prefix: string): Promise<void> {
  for (let round = 0; round < ROUNDS; round++) {
    const { kvs } = await calls.call('read cluster', (o) => kv.range(prefix, true, o));
    if (kvs.length === 0) return;
    for (let i = 0; i < kvs.length; i += OPS_PER_TXN) {
      const success = kvs.slice(i, i + OPS_PER_TXN).map((r) => ({ delete: { key: r.key } }));
      await calls.call('delete cluster', (o) => kv.txn({ compare: [], success }, o));
    }
  }
  throw new Error(`keys under ${prefix} kept coming back: not all removed after ${ROUNDS} rounds`);
}
