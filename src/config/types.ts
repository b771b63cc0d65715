/**
 * pgwarden's view of a Patroni-style YAML configuration after validation and defaults.
 * The loader (src/config/load.ts) turns YAML + PATRONI_* variables into this shape.
 */
import type { CallbackAction } from '../cluster/callbacks.ts';
import type { BootstrapCommand, ReplicaMethod } from '../cluster/replica-methods.ts';
import type { StandbyCluster } from '../cluster/standby-cluster.ts';
import type { WatchdogConfig } from '../cluster/watchdog.ts';

/** libpq's sslmode values, for a role's `sslmode` (checked when the configuration is read). */
export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];
export const isSslMode = (value: string): value is SslMode =>
  (SSL_MODES as readonly string[]).includes(value);

export interface RoleCredentials {
  username: string;
  password?: string;
  [libpqOption: string]: string | undefined;
}

/** The dynamic settings that live in `/config` (bootstrap.dcs seeds them). */
export interface DynamicConfig {
  ttl: number;
  loop_wait: number;
  retry_timeout: number;
  maximum_lag_on_failover: number;
  primary_start_timeout: number;
  primary_stop_timeout: number;
  synchronous_mode: boolean;
  synchronous_mode_strict: boolean;
  synchronous_node_count: number;
  check_timeline: boolean;
  pause: boolean;
  /** Patroni 3.0's failsafe mode: the leader stays primary through a DCS outage while every member confirms it. */
  failsafe_mode: boolean;
  /** A standby cluster's remote primary (cluster/standby-cluster.ts); null: a cluster of its own. */
  standby_cluster: StandbyCluster | null;
  postgresql: {
    use_pg_rewind: boolean;
    use_slots: boolean;
    parameters: Record<string, string | number | boolean>;
    pg_hba?: string[];
  };
}

export interface NodeConfig {
  /** Path of the YAML file it came from (for reload), or null when built from the environment. */
  source: string | null;
  name: string;
  scope: string;
  /** Normalised: leading and trailing slash, runs of slashes collapsed, e.g. `/service/`. */
  namespace: string;
  restapi: {
    listen: { host: string; port: number };
    connect_address: string;
    authentication?: { username: string; password: string };
    certfile?: string;
    keyfile?: string;
    cafile?: string;
    verify_client?: 'none' | 'optional' | 'required';
    allowlist?: string[];
    allowlist_include_members?: boolean;
    /**
     * pgwarden's statechart visualizer (GET /ui, its stream, and /journal/stream for the other
     * members' pages); on unless false. Patroni has no such key.
     */
    ui?: boolean;
  };
  etcd3: {
    /** `host:port` entries. */
    hosts: string[];
    protocol: 'http' | 'https';
    username?: string;
    password?: string;
    cacert?: string;
    cert?: string;
    key?: string;
  };
  bootstrap: {
    /** Exactly as written in YAML: becomes `/config` verbatim on the first leader. */
    dcs: Record<string, unknown>;
    initdb: Array<string | Record<string, string>>;
    pg_hba: string[];
    /** `bootstrap.method` when it is not initdb: the command that restores a new cluster. */
    method: BootstrapCommand | null;
  };
  postgresql: {
    listen: { hosts: string[]; port: number };
    connect_address: string;
    data_dir: string;
    bin_dir: string;
    pgpass: string;
    authentication: {
      superuser: RoleCredentials;
      replication: RoleCredentials;
      rewind?: RoleCredentials;
    };
    parameters: Record<string, string | number | boolean>;
    pg_hba: string[];
    use_pg_rewind?: boolean;
    use_slots?: boolean;
    pg_ctl_timeout: number;
    remove_data_directory_on_rewind_failure: boolean;
    remove_data_directory_on_diverged_timelines: boolean;
    /** Patroni's user callbacks: the command line run for each action (cluster/callbacks.ts). */
    callbacks?: Partial<Record<CallbackAction, string>>;
    /** Run after the lock is taken, before the promotion; a non-zero exit aborts it (Patroni 2.1+). */
    pre_promote?: string;
    /** Recovery settings every standby gets (restore_command, …): Patroni's postgresql.recovery_conf. */
    recovery_conf?: Record<string, string>;
    /** How a replica is made, in order (cluster/replica-methods.ts); pg_basebackup when none is configured. */
    create_replica_methods: readonly ReplicaMethod[];
  };
  tags: {
    nofailover: boolean;
    noloadbalance: boolean;
    clonefrom: boolean;
    nosync: boolean;
    /** Patroni 3.3: no WAL streaming; the node replays from the archive (postgresql.recovery_conf). */
    nostream: boolean;
    /** Patroni 3.2: preferred in the leader race among equally advanced members (0: nofailover). */
    failover_priority: number;
    replicatefrom?: string;
    /** Every configured tag (custom ones included), false booleans dropped, as Patroni publishes them. */
    published: Record<string, unknown>;
  };
  /**
   * pgwarden's gossip between agents (WebSockets on the REST port): the leader race asks over
   * it first. Patroni has no such section.
   */
  gossip: {
    enabled: boolean;
    intervalMs: number;
    /**
     * Fast failover: the short lease (ms) the leader holds from a majority of its members or
     * etcd, and the early takeover it allows (src/cluster/short-lease.ts); null: off.
     */
    shortLeaseMs: number | null;
  };
  /** Patroni's `watchdog` section (src/cluster/watchdog.ts). */
  watchdog: WatchdogConfig;
  /** Whole parsed document, for the parts no one has typed yet. */
  raw: Record<string, unknown>;
}

export const dynamicDefaults: DynamicConfig = Object.freeze({
  ttl: 30,
  loop_wait: 10,
  retry_timeout: 10,
  maximum_lag_on_failover: 1048576,
  primary_start_timeout: 300,
  primary_stop_timeout: 0,
  synchronous_mode: false,
  synchronous_mode_strict: false,
  synchronous_node_count: 1,
  check_timeline: true,
  pause: false,
  failsafe_mode: false,
  standby_cluster: null,
  postgresql: Object.freeze({ use_pg_rewind: false, use_slots: true, parameters: Object.freeze({}) }),
}) as DynamicConfig;
