/**
 * The YAML document a local cluster's agent runs on: Patroni's keys, exactly what a user would
 * write for a node on this machine (and what the benchmarks give Patroni itself).
 */
import { dirname, join } from 'node:path';
import { type RestapiTls, restapiTlsSection } from './cluster-rest.ts';
import type { ClusterNode, LocalClusterOptions } from './cluster-types.ts';

const PG_BIN = '/usr/lib/postgresql/15/bin';

export const SUPERUSER = { username: 'postgres', password: 'pgwarden-super' };
export const REPLICATION = { username: 'replicator', password: 'pgwarden-repl' };
const REWIND = { username: 'rewind_user', password: 'pgwarden-rewind' };
export const REST_AUTH = { username: 'admin', password: 'pgwarden-admin' };

export function nodeDocument(
  node: ClusterNode,
  opts: LocalClusterOptions,
  etcdEndpoint: string,
  restapiTls: RestapiTls | undefined,
): Record<string, unknown> {
  const tags = opts.tags?.(node.index) ?? {};
  const clients = opts.network?.clients ?? '127.0.0.1/32';
  return {
    scope: opts.scope ?? 'demo',
    namespace: '/service/',
    name: node.name,
    restapi: {
      listen: `${node.host}:${node.apiPort}`,
      connect_address: `${node.host}:${node.apiPort}`,
      authentication: REST_AUTH,
      ...(restapiTls ? restapiTlsSection(restapiTls) : {}),
    },
    etcd3: { hosts: etcdEndpoint.replace(/https?:\/\//g, '') },
    bootstrap: {
      dcs: {
        ttl: 30,
        loop_wait: 10,
        retry_timeout: 10,
        maximum_lag_on_failover: 1048576,
        postgresql: { use_pg_rewind: true, use_slots: true },
        ...opts.dcs,
      },
      initdb: [{ encoding: 'UTF8' }, 'data-checksums'],
      pg_hba: [`host replication replicator ${clients} md5`, `host all all ${clients} md5`],
    },
    postgresql: {
      listen: `${node.host}:${node.pgPort}`,
      connect_address: `${node.host}:${node.pgPort}`,
      data_dir: node.dataDir,
      bin_dir: PG_BIN,
      pgpass: join(dirname(node.dataDir), 'pgpass'),
      authentication: { superuser: SUPERUSER, replication: REPLICATION, rewind: REWIND },
      parameters: {
        max_connections: 50,
        shared_buffers: '32MB',
        unix_socket_directories: dirname(node.dataDir),
      },
      use_pg_rewind: true,
      ...opts.postgresql,
    },
    tags: { nofailover: false, noloadbalance: false, clonefrom: false, ...tags },
  };
}
