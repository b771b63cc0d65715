/**
 * What tests, the runner and the invariants read of a simulated cluster besides the nodes'
 * reports: the DCS keys as etcd holds them (/failover, /config, /sync, parsed leniently as a
 * client would) and each node's PostgreSQL as an outside observer sees it. Reading never
 * changes the cluster.
 */
import type { MemoryEtcd } from '../memory-dcs.ts';
import type { SimulatedNode } from './node.ts';
import type { NodeSummary } from './types.ts';

/** The member a /failover request names (null: none pending). */
export function failoverCandidate(store: MemoryEtcd, prefix: string): string | null {
  const raw = store.get(`${prefix}failover`)?.value;
  if (!raw) return null;
  try {
    const f = JSON.parse(raw) as { member?: unknown };
    return typeof f.member === 'string' && f.member !== '' ? f.member : null;
  } catch {
    return null;
  }
}

/** The dynamic configuration in /config (null: none yet). */
export function dynamicConfig(store: MemoryEtcd, prefix: string): Record<string, unknown> | null {
  const raw = store.get(`${prefix}config`)?.value;
  if (!raw) return null;
  try {
    return JSON.parse(raw) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** /sync: the leader it was written by and the standbys it names (null: no key). */
export function syncState(
  store: MemoryEtcd,
  prefix: string,
): { leader: string | null; standbys: string[] } | null {
  const raw = store.get(`${prefix}sync`)?.value;
  if (!raw) return null;
  const s = JSON.parse(raw) as { leader?: string | null; sync_standby?: string | null };
  return {
    leader: s.leader ?? null,
    standbys: s.sync_standby ? s.sync_standby.split(',').filter((x) => x !== '') : [],
  };
}

/** Nodes whose PostgreSQL streams from an upstream. */
export function streamingReplicas(nodes: readonly SimulatedNode[]): string[] {
  return nodes
    .filter((n) => n.postgres.running() && n.postgres.proc?.role === 'standby' && n.postgres.proc.connected)
    .map((n) => n.name);
}

/** Each node as an observer sees it: its agent, its report, its PostgreSQL. */
export function summarize(nodes: readonly SimulatedNode[]): NodeSummary[] {
  return nodes.map((n) => {
    const r = n.report();
    const pg = n.postgres;
    const wal = pg.wal();
    return {
      name: n.name,
      agent: !n.alive() ? 'dead' : n.frozen() ? 'frozen' : 'running',
      role: r?.role ?? null,
      state: r?.state ?? null,
      isLeader: r?.isLeader ?? false,
      postgres: !pg.running() ? 'stopped' : pg.writable() ? 'primary' : 'replica',
      timeline: wal?.timeline ?? null,
      lsn: wal?.lsn ?? null,
      streaming: pg.proc?.connected ?? false,
    };
  });
}
