/**
 * The two HA agents the failover benchmark compares, on the same YAML file per node: pgwarden
 * (LocalCluster's default command) and the real Patroni 3.0.2 from Debian's `patroni` package.
 * Both run as the postgres OS user (LocalCluster does that for any command).
 */
import type { ClusterNode, LocalClusterOptions } from '../../src/local/cluster.ts';

/**
 * `pgwarden`: its defaults (fast failover on since 2026-12-05, session 17). `pgwarden-fast`: fast
 * failover asked for in the YAML (the same as the defaults now; earlier results name it).
 * `pgwarden-no-fast`: fast failover off (gossip.fast_failover: false), failover on the ttl.
 */
export type AgentKind = 'pgwarden' | 'pgwarden-fast' | 'pgwarden-no-fast' | 'patroni';
export const AGENTS: AgentKind[] = ['pgwarden', 'pgwarden-fast', 'pgwarden-no-fast', 'patroni'];

/** What the YAML of `kind` says about fast failover (nothing: the defaults). */
export function fastFailoverYaml(kind: AgentKind): Record<string, unknown> {
  if (kind === 'pgwarden-fast') return { gossip: { fast_failover: true } };
  if (kind === 'pgwarden-no-fast') return { gossip: { fast_failover: false } };
  return {};
}

const PATRONI = '/usr/bin/patroni';

/** LocalCluster's agent command for `kind` (undefined: pgwarden, its default). */
export function agentArgv(kind: AgentKind): LocalClusterOptions['agentArgv'] {
  return kind === 'patroni' ? (n: ClusterNode) => [PATRONI, n.configFile] : undefined;
}

/** Profiles (`bootstrap.dcs`): `slow` = Patroni's defaults. */
export type ProfileName = 'slow' | 'fast';
export interface Profile {
  name: ProfileName;
  dcs: { ttl: number; loop_wait: number; retry_timeout: number };
}
export const PROFILES: Record<ProfileName, Profile> = {
  slow: { name: 'slow', dcs: { ttl: 30, loop_wait: 10, retry_timeout: 10 } },
  fast: { name: 'fast', dcs: { ttl: 10, loop_wait: 2, retry_timeout: 4 } },
};

/**
 * Each node's etcd3 section: its own proxy (so one agent can be cut from etcd), and
 * `use_proxies: true` so that Patroni uses that address instead of discovering etcd's members
 * (which would bypass the proxy); pgwarden never discovers members and ignores the key. The
 * `pgwarden-fast` and `pgwarden-no-fast` kinds turn fast failover on or off in the same file.
 */
export function etcdThroughProxy(
  proxyPort: (node: ClusterNode) => number,
  kind: AgentKind = 'pgwarden',
): LocalClusterOptions['editConfig'] {
  return (node, doc) => ({
    ...doc,
    etcd3: { hosts: `127.0.0.1:${proxyPort(node)}`, use_proxies: true },
    ...fastFailoverYaml(kind),
  });
}
