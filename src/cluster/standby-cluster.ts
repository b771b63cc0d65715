/**
 * A standby cluster (Patroni's `standby_cluster` in /config): its leader, the "standby leader",
 * holds the leader key but runs PostgreSQL as a standby of a remote primary (host, port, a slot
 * there, a restore_command); its replicas stream from it; removing the section promotes it.
 * Read from /config leniently (a bad value there must not take a node down): what cannot be used
 * is left out, and a section without a remote to stream from is no standby cluster here.
 */
import type { UpstreamTarget } from './postgres-state.ts';
import type { ReplicaMethod } from './replica-methods.ts';

export interface StandbyCluster {
  /**
   * The remote primary; null when the section names none pgwarden can stream from (no host, a
   * bad port): the cluster is a standby cluster all the same — its members stay standbys of
   * nobody, never promoted, until the section is fixed or removed.
   */
  host: string | null;
  port: number;
  /** A slot on the remote primary the standby leader streams through (null: none). */
  primarySlotName: string | null;
  /** restore_command, archive_cleanup_command, recovery_min_apply_delay: the standby leader's recovery settings. */
  recovery: Readonly<Record<string, string>>;
  /**
   * The section's `create_replica_methods` (their options in the local `postgresql.<name>`):
   * every clone in a standby cluster uses them, pg_basebackup alone when there are none.
   */
  createReplicaMethods: readonly string[];
}

const RECOVERY_KEYS = ['restore_command', 'archive_cleanup_command', 'recovery_min_apply_delay'] as const;

/** Patroni's is_standby_cluster: a mapping with a host, a port or a restore_command. */
export function isStandbySection(section: unknown): section is Record<string, unknown> {
  if (typeof section !== 'object' || section === null || Array.isArray(section)) return false;
  const s = section as Record<string, unknown>;
  return !!(s['host'] || s['port'] || s['restore_command']);
}

function text(v: unknown): string | null {
  if (typeof v === 'string' && v.trim() !== '') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return null;
}

/**
 * The standby cluster /config (or bootstrap.dcs) describes, or null when it describes none. One it
 * cannot stream from — no host (Patroni can follow an archive alone, with only a restore_command:
 * not yet here), or a port that is not one — is a standby cluster without a remote (host null):
 * failing closed, so that a mistyped edit never promotes anyone.
 */
export function standbyClusterOf(data: Record<string, unknown> | null | undefined): StandbyCluster | null {
  const section = data?.['standby_cluster'];
  if (!isStandbySection(section)) return null;
  const rawPort = section['port'] ?? 5432;
  const port = typeof rawPort === 'number' ? rawPort : Number(text(rawPort) ?? Number.NaN);
  const usable = Number.isInteger(port) && port >= 1 && port <= 65535;
  const host = usable ? text(section['host']) : null;
  const recovery: Record<string, string> = {};
  for (const k of RECOVERY_KEYS) {
    const v = text(section[k]);
    if (v !== null) recovery[k] = v;
  }
  const methods = section['create_replica_methods'];
  return {
    host,
    port: usable ? port : 5432,
    primarySlotName: text(section['primary_slot_name']),
    recovery,
    createReplicaMethods: Array.isArray(methods)
      ? methods.filter((m): m is string => typeof m === 'string')
      : [],
  };
}

/** Where a standby cluster's leader (or, with no leader, any member) streams from; null: nowhere. */
export function remoteTarget(standby: StandbyCluster, me: string): UpstreamTarget | null {
  if (standby.host === null) return null;
  return {
    host: standby.host,
    port: standby.port,
    applicationName: me,
    slotName: standby.primarySlotName,
    ...(Object.keys(standby.recovery).length > 0 ? { recovery: standby.recovery } : {}),
  };
}

/**
 * The name a node follows while it streams from the remote primary (Patroni's RemoteMember is
 * `remote_member:<uuid>`): with its address and slot, so that a change of them in /config is a
 * change of upstream.
 */
export function remoteMemberName(standby: StandbyCluster): string {
  return `remote_member:${standby.host}:${standby.port}${standby.primarySlotName ? `/${standby.primarySlotName}` : ''}`;
}

/**
 * A standby cluster as a node runs in it: the section, and the methods every clone in it tries
 * (the section's `create_replica_methods` with their local `postgresql.<name>` options; pg_basebackup
 * alone when it names none — Patroni ignores the local create_replica_methods there).
 */
export interface StandbySettings extends StandbyCluster {
  methods: readonly ReplicaMethod[];
}
