import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import type { NodeReport } from '../../src/cluster/report.ts';
import { type ClusterView, emptyClusterView } from '../../src/cluster/view.ts';
import { epochSeconds, paddedVersion, renderMetrics } from '../../src/http/routes/metrics.ts';
import { buildApi } from '../../src/http/server.ts';
import { FakeOps } from '../helpers/fake-ops.ts';
import { makeNodeConfig } from '../helpers/pg-config.ts';
import { MB, pgStatus } from '../helpers/pg-status.ts';

const NOW = 1_795_637_532_000;

const view: ClusterView = {
  ...emptyClusterView,
  revision: '30',
  config: { index: '2', data: { ttl: 30 } },
  leader: { name: 'pg1', index: '3', session: '1' },
  sync: { index: '5', leader: 'pg1', sync_standby: ['pg2'] },
};

function leaderReport(over: Partial<NodeReport> = {}): NodeReport {
  return {
    name: 'pg1',
    scope: 'batman',
    connUrl: 'postgres://10.0.0.1:5432/postgres',
    apiUrl: 'http://10.0.0.1:8008/patroni',
    tags: {},
    state: 'running',
    role: 'master',
    pg: pgStatus({
      replication: [
        {
          usename: 'replicator',
          application_name: 'pg2',
          client_addr: '10.0.0.2',
          state: 'streaming',
          sync_state: 'async',
          sync_priority: 0,
          flush_lsn: 100 * MB,
          replay_lsn: 100 * MB,
        },
      ],
    }),
    systemIdentifier: '7123456789012345678',
    isLeader: true,
    view,
    dcsLastSeen: 1795637530,
    paused: false,
    synchronousMode: false,
    ...over,
  };
}

const replicaReport = (over: Partial<NodeReport> = {}): NodeReport =>
  leaderReport({
    name: 'pg2',
    role: 'replica',
    isLeader: false,
    pg: pgStatus({
      inRecovery: true,
      currentLsn: null,
      receivedLsn: 100 * MB,
      replayedLsn: 99 * MB,
      replayedTimestamp: '2026-11-25 20:12:10+00:00',
      replicationState: 'streaming',
      pendingRestart: true,
    }),
    ...over,
  });

let app: FastifyInstance | null = null;
afterEach(async () => {
  await app?.close();
  app = null;
});

async function scrape(report: NodeReport): Promise<{ status: number; type: string; lines: string[] }> {
  app = await buildApi({
    report: () => report,
    settings: () => ({ ttl: 30, loop_wait: 10 }),
    nextRun: () => NOW + 10_000,
    now: () => NOW,
    config: () =>
      makeNodeConfig({ name: 'pg1', pgPort: 5432, apiPort: 8008, dataDir: '/tmp/pgwarden-unused' }),
    ops: new FakeOps(),
  });
  const res = await app.inject({ method: 'GET', url: '/metrics' });
  expect(res.body.endsWith('\n')).toBe(true);
  return { status: res.statusCode, type: String(res.headers['content-type']), lines: res.body.split('\n') };
}

const L = '{scope="batman",name="pg1"}';
const R = '{scope="batman",name="pg2"}';

const PATRONI_ORDER = [
  'patroni_version',
  'patroni_postgres_running',
  'patroni_postmaster_start_time',
  'patroni_master',
  'patroni_primary',
  'patroni_xlog_location',
  'patroni_standby_leader',
  'patroni_replica',
  'patroni_sync_standby',
  'patroni_xlog_received_location',
  'patroni_xlog_replayed_location',
  'patroni_xlog_replayed_timestamp',
  'patroni_xlog_paused',
  'patroni_postgres_streaming',
  'patroni_postgres_in_archive_recovery',
  'patroni_postgres_server_version',
  'patroni_cluster_unlocked',
  'patroni_failsafe_mode_is_active',
  'patroni_postgres_timeline',
  'patroni_dcs_last_seen',
  'patroni_pending_restart',
  'patroni_is_paused',
];

describe('GET /metrics', () => {
  it('is Prometheus text 0.0.4 with HELP, TYPE and one sample per Patroni metric, in order', async () => {
    const { status, type, lines } = await scrape(leaderReport());
    expect(status).toBe(200);
    expect(type).toMatch(/^text\/plain; version=0\.0\.4/);
    const names = lines.filter((l) => l.startsWith('# HELP ')).map((l) => l.split(' ')[2]);
    expect(names.slice(0, PATRONI_ORDER.length)).toEqual(PATRONI_ORDER);
    for (const n of names) expect(n!.startsWith('patroni_') || n!.startsWith('pgwarden_')).toBe(true);
    expect(names.slice(PATRONI_ORDER.length).every((n) => n!.startsWith('pgwarden_'))).toBe(true);
    // HELP, TYPE, sample for every Patroni metric.
    for (const name of PATRONI_ORDER) {
      const i = lines.findIndex((l) => l.startsWith(`# HELP ${name} `));
      expect(lines[i + 1]).toMatch(new RegExp(`^# TYPE ${name} (gauge|counter)$`));
      expect(
        lines[i + 2]!.startsWith(name === 'patroni_postgres_server_version' ? `${name} {` : `${name}{`),
      ).toBe(true);
    }
    expect(lines).toContain('# TYPE patroni_xlog_location counter');
    expect(lines).toContain('# TYPE patroni_postgres_timeline counter');
    expect(lines).toContain('# HELP patroni_version Patroni semver without periods.');
  });

  it('primary values', async () => {
    const { lines } = await scrape(leaderReport());
    expect(lines).toEqual(
      expect.arrayContaining([
        `patroni_version${L} 030002`,
        `patroni_postgres_running${L} 1`,
        `patroni_postmaster_start_time${L} 1795636677.123456`,
        `patroni_master${L} 1`,
        `patroni_primary${L} 1`,
        `patroni_xlog_location${L} ${100 * MB}`,
        `patroni_standby_leader${L} 0`,
        `patroni_replica${L} 0`,
        `patroni_sync_standby${L} 0`,
        `patroni_xlog_received_location${L} 0`,
        `patroni_xlog_replayed_location${L} 0`,
        `patroni_xlog_replayed_timestamp${L} 0`,
        `patroni_xlog_paused${L} 0`,
        `patroni_postgres_streaming${L} 0`,
        `patroni_postgres_server_version ${L} 150004`,
        `patroni_cluster_unlocked${L} 0`,
        `patroni_failsafe_mode_is_active${L} 0`,
        `patroni_postgres_timeline${L} 2`,
        `patroni_dcs_last_seen${L} 1795637530`,
        `patroni_pending_restart${L} 0`,
        `patroni_is_paused${L} 0`,
        `pgwarden_is_leader${L} 1`,
        `pgwarden_dcs_view_available${L} 1`,
        `pgwarden_dcs_last_seen_seconds_ago${L} 2`,
        `pgwarden_wal_senders${L} 1`,
      ]),
    );
    expect(
      lines.some((l) =>
        /^pgwarden_info\{scope="batman",name="pg1",version="[^"]+",patroni_version="3\.0\.2"\} 1$/.test(l),
      ),
    ).toBe(true);
  });

  it('replica values (sync standby with synchronous_mode, pending restart, replay timestamp)', async () => {
    const { lines } = await scrape(replicaReport({ synchronousMode: true }));
    expect(lines).toEqual(
      expect.arrayContaining([
        `patroni_master${R} 0`,
        `patroni_primary${R} 0`,
        `patroni_xlog_location${R} 0`,
        `patroni_replica${R} 1`,
        `patroni_sync_standby${R} 1`,
        `patroni_xlog_received_location${R} ${100 * MB}`,
        `patroni_xlog_replayed_location${R} ${99 * MB}`,
        `patroni_xlog_replayed_timestamp${R} 1795637530.0`,
        `patroni_postgres_streaming${R} 1`,
        `patroni_postgres_in_archive_recovery${R} 0`,
        `patroni_pending_restart${R} 1`,
        `pgwarden_is_leader${R} 0`,
        `pgwarden_wal_senders${R} 0`,
      ]),
    );
  });

  it('failsafe mode active: patroni_failsafe_mode_is_active 1', async () => {
    const { lines } = await scrape(replicaReport({ failsafeActive: true }));
    expect(lines).toContain(`patroni_failsafe_mode_is_active${R} 1`);
  });

  it('gossip counters, with a sample per drop reason', async () => {
    const gossip = {
      connectedPeers: 2,
      framesSent: 40,
      framesReceived: 39,
      dropped: { undecodable: 1, version: 0, malformed: 0, scope: 2, sender: 0 },
    };
    const text = renderMetrics(leaderReport(), NOW, gossip).split('\n');
    expect(text).toEqual(
      expect.arrayContaining([
        '# TYPE pgwarden_gossip_peers_connected gauge',
        `pgwarden_gossip_peers_connected${L} 2`,
        `pgwarden_gossip_frames_sent_total${L} 40`,
        `pgwarden_gossip_frames_received_total${L} 39`,
        '# TYPE pgwarden_gossip_frames_dropped_total counter',
        `pgwarden_gossip_frames_dropped_total{scope="batman",name="pg1",reason="undecodable"} 1`,
        `pgwarden_gossip_frames_dropped_total{scope="batman",name="pg1",reason="scope"} 2`,
      ]),
    );
    expect(renderMetrics(leaderReport(), NOW).includes('pgwarden_gossip')).toBe(false);
  });

  it('a replica without synchronous_mode is no sync standby; archive recovery; paused replay', async () => {
    const r = replicaReport();
    r.pg = { ...r.pg!, replicationState: 'in archive recovery', replayPaused: true };
    const { lines } = await scrape(r);
    expect(lines).toEqual(
      expect.arrayContaining([
        `patroni_sync_standby${R} 0`,
        `patroni_postgres_streaming${R} 0`,
        `patroni_postgres_in_archive_recovery${R} 1`,
        `patroni_xlog_paused${R} 1`,
      ]),
    );
  });

  it('postgres down, no DCS view: zeros, unlocked, and no made-up pgwarden samples', async () => {
    const { lines } = await scrape(
      leaderReport({
        state: 'stopped',
        role: 'replica',
        pg: null,
        view: null,
        dcsLastSeen: null,
        isLeader: false,
        paused: true,
      }),
    );
    expect(lines).toEqual(
      expect.arrayContaining([
        `patroni_postgres_running${L} 0`,
        `patroni_postmaster_start_time${L} 0`,
        `patroni_master${L} 0`,
        `patroni_replica${L} 1`,
        `patroni_postgres_server_version ${L} 0`,
        `patroni_postgres_timeline${L} 0`,
        `patroni_cluster_unlocked${L} 1`,
        `patroni_dcs_last_seen${L} 0`,
        `patroni_is_paused${L} 1`,
        `pgwarden_dcs_view_available${L} 0`,
        `pgwarden_wal_senders${L} 0`,
      ]),
    );
    expect(lines).toContain('# TYPE pgwarden_dcs_last_seen_seconds_ago gauge');
    expect(lines.some((l) => l.startsWith('pgwarden_dcs_last_seen_seconds_ago{'))).toBe(false);
    expect(lines.some((l) => l.startsWith('pgwarden_cluster_members{'))).toBe(false);
  });

  it('label values are escaped', async () => {
    const { lines } = await scrape(leaderReport({ scope: 'a"b\\c' }));
    expect(lines).toContain('patroni_is_paused{scope="a\\"b\\\\c",name="pg1"} 0');
  });
});

describe('metric helpers', () => {
  it('pads the version like Patroni', () => {
    expect(paddedVersion('3.0.2')).toBe('030002');
    expect(paddedVersion('3.10.12')).toBe('031012');
  });
  it('epoch seconds of Python datetime strings', () => {
    expect(epochSeconds('2026-11-25 19:57:57.123456+00:00')).toBe(1795636677.123456);
    expect(epochSeconds('2026-11-25 19:57:57+00:00')).toBe(1795636677);
    expect(epochSeconds('2026-11-25 21:57:57.5+02:00')).toBe(1795636677.5);
    expect(epochSeconds('2026-11-25 19:57:57.1+00')).toBe(1795636677.1);
    expect(epochSeconds(null)).toBeNull();
    expect(epochSeconds('garbage')).toBeNull();
  });
});
