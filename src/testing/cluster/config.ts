/**
 * The configuration each simulated node starts with: the YAML an operator would write for a
 * node of a small cluster (small lease timings, addresses named after the node, simulated
 * credentials), parsed by the production loader so that the agents see what they would in
 * production.
 */
import { parseConfigText } from '../../config/load.ts';
import type { NodeConfig } from '../../config/types.ts';
import type { SimulatedClusterOptions } from './types.ts';

export const DEFAULT_DCS = {
  ttl: 30,
  loop_wait: 10,
  retry_timeout: 10,
  maximum_lag_on_failover: 1048576,
  postgresql: { use_pg_rewind: true, use_slots: true, parameters: {} },
};

/** Node `name` (the i-th, 0-based) of cluster `scope`, with bootstrap.dcs `dcs`. */
export function nodeConfig(
  opts: SimulatedClusterOptions,
  scope: string,
  dcs: Record<string, unknown>,
  i: number,
  name: string,
): NodeConfig {
  return parseConfigText(
    JSON.stringify({
      name,
      scope,
      restapi: { listen: `${name}:8008`, connect_address: `${name}:8008` },
      etcd3: { hosts: ['simulated-etcd:2379'] },
      bootstrap: { dcs },
      postgresql: {
        listen: `${name}:5432`,
        connect_address: `${name}:5432`,
        data_dir: `/simulated/${name}/data`,
        authentication: {
          superuser: { username: 'postgres', password: 'simulated' },
          replication: { username: 'replicator', password: 'simulated' },
        },
        ...opts.localPostgresql,
      },
      tags: opts.tags?.(i, name) ?? {},
      ...(opts.watchdog ? { watchdog: { mode: opts.watchdog.mode, device: '/simulated/watchdog' } } : {}),
      ...(opts.fastFailover === undefined
        ? {}
        : {
            gossip: opts.fastFailover
              ? { fast_failover: true, short_lease: opts.fastFailover.shortLeaseS }
              : { fast_failover: false },
          }),
    }),
  );
}
