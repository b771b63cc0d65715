/**
 * A complete NodeConfig for tests: one loopback node with its own PostgreSQL port, REST port
 * and data dir. The pgpass file goes next to the data dir (the database user must own it).
 */

import path from 'node:path';
import { BASEBACKUP_ONLY } from '../../src/cluster/replica-methods.ts';
import { DEFAULT_WATCHDOG } from '../../src/cluster/watchdog.ts';
import type { NodeConfig } from '../../src/config/types.ts';

export interface NodeConfigInput {
  name: string;
  pgPort: number;
  apiPort: number;
  dataDir: string;
  /** `host:port` or a URL such as `http://127.0.0.1:2379`. */
  etcdEndpoint?: string;
  scope?: string;
}

export const TEST_PG_BIN_DIR = '/usr/lib/postgresql/15/bin';

export function makeNodeConfig(input: NodeConfigInput): NodeConfig {
  const endpoint = input.etcdEndpoint ?? '127.0.0.1:2379';
  const url = endpoint.includes('://') ? new URL(endpoint) : null;
  const etcdHost = url ? url.host : endpoint;
  const protocol = url?.protocol === 'https:' ? 'https' : 'http';
  const scope = input.scope ?? 'pgwarden-test';
  const dataDir = path.resolve(input.dataDir);
  const dcs = {
    ttl: 30,
    loop_wait: 10,
    retry_timeout: 10,
    maximum_lag_on_failover: 1048576,
    postgresql: { use_pg_rewind: true, use_slots: true, parameters: {} },
  };
  return {
    source: null,
    gossip: { enabled: true, intervalMs: 250, shortLeaseMs: null },
    watchdog: { ...DEFAULT_WATCHDOG, mode: 'off' },
    name: input.name,
    scope,
    namespace: '/service/',
    restapi: {
      listen: { host: '127.0.0.1', port: input.apiPort },
      connect_address: `127.0.0.1:${input.apiPort}`,
      authentication: { username: 'admin', password: 'admin-pass' },
    },
    etcd3: { hosts: [etcdHost], protocol },
    bootstrap: {
      dcs,
      initdb: [{ encoding: 'UTF8' }, 'data-checksums'],
      pg_hba: [
        'local all all md5',
        'host replication replicator 127.0.0.1/32 md5',
        'host all all 127.0.0.1/32 md5',
      ],
      method: null,
    },
    postgresql: {
      listen: { hosts: ['127.0.0.1'], port: input.pgPort },
      connect_address: `127.0.0.1:${input.pgPort}`,
      data_dir: dataDir,
      bin_dir: TEST_PG_BIN_DIR,
      pgpass: path.join(path.dirname(dataDir), `${input.name}.pgpass`),
      authentication: {
        superuser: { username: 'postgres', password: 'super-pass' },
        replication: { username: 'replicator', password: 'rep-pass' },
        rewind: { username: 'rewind_user', password: 'rewind-pass' },
      },
      parameters: { shared_buffers: '32MB', max_connections: 30 },
      pg_hba: [],
      use_pg_rewind: true,
      use_slots: true,
      pg_ctl_timeout: 60,
      remove_data_directory_on_rewind_failure: false,
      remove_data_directory_on_diverged_timelines: false,
      create_replica_methods: BASEBACKUP_ONLY,
    },
    tags: {
      nofailover: false,
      noloadbalance: false,
      clonefrom: false,
      nosync: false,
      nostream: false,
      failover_priority: 1,
      published: {},
    },
    raw: {
      name: input.name,
      scope,
      restapi: { listen: `127.0.0.1:${input.apiPort}`, connect_address: `127.0.0.1:${input.apiPort}` },
      etcd3: { hosts: [etcdHost], protocol },
      bootstrap: { dcs },
    },
  };
}
