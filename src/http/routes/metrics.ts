/**
 * GET /metrics: Prometheus text exposition, built from the in-memory NodeReport only (no SQL,
 * no DCS read). First Patroni's metrics, in Patroni's order with its HELP texts, types and label
 * set (the ≥3.2 form `{scope="...",name="..."}`), then pgwarden's own, all prefixed `pgwarden_`.
 */
import type { FastifyInstance } from 'fastify';
import { type AlarmsReading, clusterAlarms } from '../../cluster/orphans.ts';
import {
  isSyncStandby,
  type NodeReport,
  PATRONI_WIRE_VERSION,
  PGWARDEN_VERSION,
} from '../../cluster/report.ts';
import { pyFloatRepr } from '../../config/patch-config.ts';
import { documented } from '../openapi.ts';
import type { ApiContext } from '../server.ts';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** 3.0.2 → `030002`: each version part zero-padded to two digits, as Patroni prints it. */
export function paddedVersion(version: string): string {
  return version
    .split('.')
    .map((p) => p.padStart(2, '0'))
    .join('');
}

const PY_DATETIME =
  /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?:([+-])(\d{2})(?::?(\d{2}))?|Z)?$/;

/**
 * Seconds since the epoch of a Python `str(datetime)` (`2026-11-25 19:57:57.123456+00:00`), as
 * `(dt - epoch).total_seconds()`: whole microseconds divided by 10^6, so the float is the same.
 * Null when absent or unparseable (Patroni then prints 0).
 */
export function epochSeconds(text: string | null | undefined): number | null {
  if (!text) return null;
  const m = PY_DATETIME.exec(text.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac, sign, oh, om] = m;
  let ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (sign) ms -= (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om ?? 0)) * 60_000;
  const micros = ms * 1000 + Number((frac ?? '').padEnd(6, '0'));
  return micros / 1e6;
}

/** Python's `str()` of total_seconds() (always a float, `…​.0` when whole), or the int 0. */
function pySeconds(v: number | null): string {
  return v === null ? '0' : pyFloatRepr(v);
}

function labelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

interface Metric {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  /** null: no sample (the value is not known), only HELP and TYPE. */
  value: string | number | null;
  /** Patroni prints `patroni_postgres_server_version {scope=...}` with a space: kept for parity. */
  spaceBeforeLabels?: boolean;
  /** Extra labels after scope and name. */
  labels?: Record<string, string>;
  /** More samples of the same metric, each with its own extra labels (after `value`'s, if any). */
  samples?: Array<{ labels: Record<string, string>; value: number }>;
}

/** The gossip channel as /metrics shows it (runtime/gossip/hub.ts). */
export interface GossipReading {
  connectedPeers: number;
  framesSent: number;
  framesReceived: number;
  dropped: Record<string, number>;
}

const flag = (b: boolean | undefined): number => (b ? 1 : 0);

/** The role /patroni reports: pg_is_in_recovery when PostgreSQL answers, otherwise our own. */
function role(r: NodeReport): string {
  if (r.pg?.running) return r.pg.inRecovery ? 'replica' : 'master';
  return r.role;
}

export function patroniMetrics(r: NodeReport): Metric[] {
  const pg = r.pg?.running ? r.pg : null;
  const rl = role(r);
  const primary = rl === 'master' || rl === 'primary';
  const replica = pg?.inRecovery === true;
  const replicationState = replica ? pg.replicationState : null;
  return [
    {
      name: 'patroni_version',
      help: 'Patroni semver without periods.',
      type: 'gauge',
      value: paddedVersion(PATRONI_WIRE_VERSION),
    },
    {
      name: 'patroni_postgres_running',
      help: 'Value is 1 if Postgres is running, 0 otherwise.',
      type: 'gauge',
      value: flag(r.state === 'running'),
    },
    {
      name: 'patroni_postmaster_start_time',
      help: 'Epoch seconds since Postgres started.',
      type: 'gauge',
      value: pySeconds(epochSeconds(pg?.postmasterStartTime)),
    },
    {
      name: 'patroni_master',
      help: 'Value is 1 if this node is the leader, 0 otherwise.',
      type: 'gauge',
      value: flag(primary),
    },
    {
      name: 'patroni_primary',
      help: 'Value is 1 if this node is the leader, 0 otherwise.',
      type: 'gauge',
      value: flag(primary),
    },
    {
      name: 'patroni_xlog_location',
      help: 'Current location of the Postgres transaction log, 0 if this node is not the leader.',
      type: 'counter',
      value: pg && !pg.inRecovery ? (pg.currentLsn ?? 0) : 0,
    },
    {
      name: 'patroni_standby_leader',
      help: 'Value is 1 if this node is the standby_leader, 0 otherwise.',
      type: 'gauge',
      value: flag(rl === 'standby_leader'),
    },
    {
      name: 'patroni_replica',
      help: 'Value is 1 if this node is a replica, 0 otherwise.',
      type: 'gauge',
      value: flag(rl === 'replica'),
    },
    {
      name: 'patroni_sync_standby',
      help: 'Value is 1 if this node is a sync standby replica, 0 otherwise.',
      type: 'gauge',
      value: flag(isSyncStandby(r)),
    },
    {
      name: 'patroni_xlog_received_location',
      help: 'Current location of the received Postgres transaction log, 0 if this node is not a replica.',
      type: 'counter',
      value: replica ? (pg.receivedLsn ?? pg.replayedLsn ?? 0) : 0,
    },
    {
      name: 'patroni_xlog_replayed_location',
      help: 'Current location of the replayed Postgres transaction log, 0 if this node is not a replica.',
      type: 'counter',
      value: replica ? (pg.replayedLsn ?? 0) : 0,
    },
    {
      name: 'patroni_xlog_replayed_timestamp',
      help: 'Current timestamp of the replayed Postgres transaction log, 0 if null.',
      type: 'gauge',
      value: pySeconds(replica ? epochSeconds(pg.replayedTimestamp) : null),
    },
    {
      name: 'patroni_xlog_paused',
      help: 'Value is 1 if the Postgres xlog is paused, 0 otherwise.',
      type: 'gauge',
      value: flag(replica && pg.replayPaused),
    },
    {
      name: 'patroni_postgres_streaming',
      help: 'Value is 1 if Postgres is streaming, 0 otherwise.',
      type: 'gauge',
      value: flag(replicationState === 'streaming'),
    },
    {
      name: 'patroni_postgres_in_archive_recovery',
      help: 'Value is 1 if Postgres is replicating from archive, 0 otherwise.',
      type: 'gauge',
      value: flag(replicationState === 'in archive recovery'),
    },
    {
      name: 'patroni_postgres_server_version',
      help: 'Version of Postgres (if running), 0 otherwise.',
      type: 'gauge',
      value: pg?.serverVersion ?? 0,
      spaceBeforeLabels: true,
    },
    {
      name: 'patroni_cluster_unlocked',
      help: 'Value is 1 if the cluster is unlocked, 0 if locked.',
      type: 'gauge',
      value: flag(!r.view || r.view.leader === null),
    },
    {
      // Patroni's HELP text is copied as it is (it describes cluster_unlocked).
      name: 'patroni_failsafe_mode_is_active',
      help: 'Value is 1 if the cluster is unlocked, 0 if locked.',
      type: 'gauge',
      value: flag(r.failsafeActive),
    },
    {
      name: 'patroni_postgres_timeline',
      help: 'Postgres timeline of this node (if running), 0 otherwise.',
      type: 'counter',
      value: pg?.timeline ?? 0,
    },
    {
      name: 'patroni_dcs_last_seen',
      help: 'Epoch timestamp when DCS was last contacted successfully by Patroni.',
      type: 'gauge',
      value: r.dcsLastSeen === null ? 0 : Math.floor(r.dcsLastSeen),
    },
    {
      name: 'patroni_pending_restart',
      help: 'Value is 1 if the node needs a restart, 0 otherwise.',
      type: 'gauge',
      value: flag(r.pg?.pendingRestart),
    },
    {
      name: 'patroni_is_paused',
      help: 'Value is 1 if auto failover is disabled, 0 otherwise.',
      type: 'gauge',
      value: flag(r.paused),
    },
  ];
}

/** pgwarden's own metrics: only what the report really holds. `now` in epoch ms. */
export function pgwardenMetrics(r: NodeReport, now: number): Metric[] {
  return [
    {
      name: 'pgwarden_info',
      help: 'pgwarden build information; always 1.',
      type: 'gauge',
      value: 1,
      labels: { version: PGWARDEN_VERSION, patroni_version: PATRONI_WIRE_VERSION },
    },
    {
      name: 'pgwarden_is_leader',
      help: 'Value is 1 if this node holds the leader lock according to its last election, 0 otherwise.',
      type: 'gauge',
      value: flag(r.isLeader),
    },
    {
      name: 'pgwarden_dcs_view_available',
      help: 'Value is 1 if the node has a view of the cluster from the DCS, 0 otherwise.',
      type: 'gauge',
      value: flag(r.view !== null),
    },
    {
      name: 'pgwarden_dcs_last_seen_seconds_ago',
      help: 'Seconds since the last cluster view was received from the DCS (no sample if never).',
      type: 'gauge',
      value: r.dcsLastSeen === null ? null : Math.max(0, now / 1000 - r.dcsLastSeen),
    },
    {
      name: 'pgwarden_cluster_members',
      help: 'Number of member keys in the DCS view of the cluster (no sample without a view).',
      type: 'gauge',
      value: r.view ? r.view.members.length : null,
    },
    {
      name: 'pgwarden_wal_senders',
      help: 'Number of WAL senders (pg_stat_replication rows) on this node, 0 if Postgres is not running.',
      type: 'gauge',
      value: r.pg?.running ? r.pg.replication.length : 0,
    },
  ];
}

/** The gossip channel's gauges and counters (none when gossip is off). */
export function gossipMetrics(g: GossipReading): Metric[] {
  return [
    {
      name: 'pgwarden_gossip_peers_connected',
      help: 'Number of members this node has an open gossip link to.',
      type: 'gauge',
      value: g.connectedPeers,
    },
    {
      name: 'pgwarden_gossip_frames_sent_total',
      help: 'Gossip frames sent (status frames, answers and acks).',
      type: 'counter',
      value: g.framesSent,
    },
    {
      name: 'pgwarden_gossip_frames_received_total',
      help: 'Gossip frames received and accepted.',
      type: 'counter',
      value: g.framesReceived,
    },
    {
      name: 'pgwarden_gossip_frames_dropped_total',
      help: 'Gossip frames dropped unread, by reason (undecodable, version, malformed, scope, sender).',
      type: 'counter',
      value: null,
      samples: Object.entries(g.dropped).map(([reason, value]) => ({ labels: { reason }, value })),
    },
  ];
}

function extraLabels(labels: Record<string, string> | undefined): string {
  return Object.entries(labels ?? {})
    .map(([k, v]) => `,${k}="${labelValue(v)}"`)
    .join('');
}

/** The orphan primaries this node fenced (src/cluster/orphans.ts). */
function alarmMetrics(a: AlarmsReading, r: NodeReport, now: number): Metric[] {
  return [
    {
      name: 'pgwarden_orphans_fenced_total',
      help: 'Former leaders whose PostgreSQL this node found writable and fenced before promoting.',
      type: 'counter',
      value: a.orphansFenced,
    },
    {
      name: 'pgwarden_orphan_alarms',
      help: 'Orphan primaries fenced in the last hour by any member (the alarms GET /cluster shows).',
      type: 'gauge',
      value: clusterAlarms(r.view, r.name, a.list, now).length,
    },
  ];
}

export function renderMetrics(
  r: NodeReport,
  now: number,
  gossip?: GossipReading,
  alarms?: AlarmsReading,
): string {
  const base = `scope="${labelValue(r.scope)}",name="${labelValue(r.name)}"`;
  const lines: string[] = [];
  const metrics = [
    ...patroniMetrics(r),
    ...pgwardenMetrics(r, now),
    ...(gossip ? gossipMetrics(gossip) : []),
    ...(alarms ? alarmMetrics(alarms, r, now) : []),
  ];
  for (const m of metrics) {
    lines.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`);
    if (m.value !== null)
      lines.push(`${m.name}${m.spaceBeforeLabels ? ' ' : ''}{${base}${extraLabels(m.labels)}} ${m.value}`);
    for (const s of m.samples ?? []) lines.push(`${m.name}{${base}${extraLabels(s.labels)}} ${s.value}`);
  }
  return lines.join('\n') + '\n';
}

export async function metricsRoutes(app: FastifyInstance, opts: { ctx: ApiContext }): Promise<void> {
  const { ctx } = opts;
  app.get(
    '/metrics',
    documented({
      summary: 'Prometheus metrics',
      description:
        "Prometheus text exposition (format 0.0.4): Patroni's metrics (`patroni_*`, in Patroni's " +
        "order, with its HELP texts and `{scope,name}` labels), then pgwarden's own (`pgwarden_*`). " +
        'No DCS read; PostgreSQL is queried anew when the last sample is over a second old.',
      tags: ['metrics'],
      response: {
        200: {
          description: 'The metrics.',
          content: { 'text/plain; version=0.0.4': { schema: { type: 'string' } } },
        },
      },
    }),
    async (_req, reply) => {
      await ctx.freshStatus?.();
      return reply
        .type(METRICS_CONTENT_TYPE)
        .send(renderMetrics(ctx.report(), ctx.now(), ctx.gossip?.(), ctx.alarms?.()));
    },
  );
}
