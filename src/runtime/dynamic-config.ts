/**
 * The cluster-wide configuration (/config, Patroni's dynamic configuration) as this node follows
 * it: the machine's settings and PostgreSQL's parameters from it, the DCS timing (retry_timeout,
 * a new lease for a new ttl), and a copy kept in the data directory (patroni.dynamic.json) so
 * that a restarted agent has the cluster's timing before etcd answers.
 */
import type { Dcs } from '../actors/dcs.ts';
import type { Postgres } from '../actors/postgres.ts';
import { BASEBACKUP_ONLY, type ReplicaMethod } from '../cluster/replica-methods.ts';
import { apiUrlOf } from '../cluster/report.ts';
import type { StandbyCluster } from '../cluster/standby-cluster.ts';
import type { ClusterView } from '../cluster/view.ts';
import { watchdogPlanOf } from '../cluster/watchdog.ts';
import { dynamicConfigFrom } from '../config/load.ts';
import { replicaMethodsNamed } from '../config/replica-methods.ts';
import type { DynamicConfig, NodeConfig } from '../config/types.ts';
import type { NodeSettings } from '../machines/node/index.ts';
import type { ServerParameters } from './server-parameters.ts';

/** `watchdogUsable`: the watchdog section's device exists and is writable (checked by the runtime). */
export function nodeSettingsFrom(config: NodeConfig, d: DynamicConfig, watchdogUsable = false): NodeSettings {
  return {
    ttl: d.ttl,
    loop_wait: d.loop_wait,
    retry_timeout: d.retry_timeout,
    maximum_lag_on_failover: d.maximum_lag_on_failover,
    check_timeline: d.check_timeline,
    failsafe_mode: d.failsafe_mode,
    api_url: apiUrlOf(config),
    synchronous_mode: d.synchronous_mode,
    synchronous_mode_strict: d.synchronous_mode_strict,
    synchronous_node_count: d.synchronous_node_count,
    paused: d.pause,
    use_pg_rewind: d.postgresql.use_pg_rewind,
    use_slots: d.postgresql.use_slots,
    primary_start_timeout: d.primary_start_timeout,
    pg_ctl_timeout: config.postgresql.pg_ctl_timeout,
    remove_data_directory_on_rewind_failure: config.postgresql.remove_data_directory_on_rewind_failure,
    remove_data_directory_on_diverged_timelines:
      config.postgresql.remove_data_directory_on_diverged_timelines,
    watchdog: watchdogPlanOf(config.watchdog, d.ttl, d.loop_wait, watchdogUsable),
    short_lease_ms: config.gossip.shortLeaseMs,
    create_replica_methods: config.postgresql.create_replica_methods,
    bootstrap_method: config.bootstrap.method,
    standby_cluster: d.standby_cluster
      ? { ...d.standby_cluster, methods: standbyMethods(config, d.standby_cluster) }
      : null,
  };
}

/**
 * The methods a standby cluster's clones use (its create_replica_methods, their options in the
 * local postgresql.<name>). The names come from /config: a section that cannot be used leaves
 * pg_basebackup, never a node that cannot start.
 */
function standbyMethods(config: NodeConfig, standby: StandbyCluster): readonly ReplicaMethod[] {
  const names = standby.createReplicaMethods.length > 0 ? standby.createReplicaMethods : ['basebackup'];
  const pg = config.raw['postgresql'];
  try {
    return replicaMethodsNamed(
      typeof pg === 'object' && pg !== null ? (pg as Record<string, unknown>) : {},
      names,
    );
  } catch {
    return BASEBACKUP_ONLY;
  }
}

/** The settings in force under `config` and /config `data` (bootstrap.dcs before there is one). */
export function settingsFrom(
  config: NodeConfig,
  data: Record<string, unknown> | null,
  watchdogUsable = false,
): NodeSettings {
  return nodeSettingsFrom(config, dynamicConfigFrom(data ?? config.bootstrap.dcs, config), watchdogUsable);
}

export interface DynamicConfigHost {
  readonly pg: Postgres;
  readonly dcs: Dcs;
  readonly params: ServerParameters;
  config(): NodeConfig;
  /** The watchdog section's device exists and is writable now (asked each time settings are made). */
  watchdogUsable(): boolean;
  /** The node machine is told of new settings. */
  tell(settings: NodeSettings): void;
  log(msg: string): void;
}

export class DynamicConfigFollower {
  /** The settings in force. */
  settings: NodeSettings;
  /** mod_revision of the /config last applied. */
  private index: string | null = null;
  /** A /config not yet kept in the data directory (see saveCache). */
  private pending: Record<string, unknown> | null = null;

  constructor(private readonly h: DynamicConfigHost) {
    this.settings = this.apply(null);
  }

  /** /config (or bootstrap.dcs before there is one) → machine settings and server parameters. */
  apply(data: Record<string, unknown> | null): NodeSettings {
    const config = this.h.config();
    const d = dynamicConfigFrom(data ?? config.bootstrap.dcs, config);
    this.settings = nodeSettingsFrom(config, d, this.h.watchdogUsable());
    this.h.params.setDynamic(d.postgresql.parameters);
    return this.settings;
  }

  /** A DCS view: a changed /config is applied, told, kept and given to the DCS client. */
  follow(view: ClusterView): void {
    const index = view.config?.index ?? null;
    if (index === this.index) return;
    this.index = index;
    const ttlBefore = this.settings.ttl;
    this.apply(view.config?.data ?? null);
    this.h.tell(this.settings);
    if (view.config) this.pending = view.config.data;
    void this.saveCache();
    this.h.dcs.setRetryTimeout(this.settings.retry_timeout);
    // A new ttl needs a new lease: the leader's next refresh moves its key onto one (never
    // behind the election's back), other keys move at their next write.
    if (this.settings.ttl !== ttlBefore) this.h.dcs.setTtl(this.settings.ttl);
  }

  /**
   * At start, before any view: the last /config this node applied (patroni.dynamic.json), so the
   * cluster's timing holds from the first second, while etcd may still be away, rather than the
   * YAML's bootstrap values. `stillUseful` says no view has arrived meanwhile.
   */
  async restoreCache(stillUseful: () => boolean): Promise<void> {
    const cached = await this.h.pg.readDynamicConfigCache().catch(() => null);
    if (cached === null || !stillUseful()) return;
    this.h.tell(this.apply(cached));
    this.h.dcs.setRetryTimeout(this.settings.retry_timeout);
    this.h.dcs.setTtl(this.settings.ttl);
  }

  /**
   * The last /config into the data directory, once there is an initialized one to keep it in:
   * tried again every loop until it is written, as Patroni does.
   */
  async saveCache(): Promise<void> {
    const data = this.pending;
    if (data === null) return;
    try {
      if (await this.h.pg.writeDynamicConfigCache(data)) {
        if (this.pending === data) this.pending = null;
      }
    } catch (err) {
      this.h.log(`saving the dynamic configuration: ${(err as Error).message}`);
    }
  }
}
