/**
 * Patroni's DCS semantics over a small kv contract (kv-dcs.ts), shared by the etcd and the
 * in-memory backends: bounded calls (calls.ts), the lease (lease.ts), the watched copies of the
 * keys (view-cache.ts) and the watch that keeps them (watch.ts).
 */
export { KvTransientError } from './calls.ts';
export { KvDcs, type KvDcsOptions } from './kv-dcs.ts';
