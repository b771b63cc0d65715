import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { type NodeReport, statusDocument } from '../../src/cluster/report.ts';
import { type ClusterView, emptyClusterView, type Member } from '../../src/cluster/view.ts';
import { buildApi } from '../../src/http/server.ts';
import { FakeOps } from '../helpers/fake-ops.ts';
import { makeNodeConfig } from '../helpers/pg-config.ts';
import { MB, pgStatus } from '../helpers/pg-status.ts';

const NOW = 1_795_637_532_000;

const replicaPg = (replayed = 100 * MB) =>
  pgStatus({
    inRecovery: true,
    currentLsn: null,
    receivedLsn: replayed,
    replayedLsn: replayed,
    replicationState: 'streaming',
  });

function member(name: string, role: 'master' | 'replica', xlog: number): Member {
  const n = name.slice(-1);
  return {
    name,
    index: '1',
    session: '1',
    data: {
      conn_url: `postgres://10.0.0.${n}:5432/postgres`,
      api_url: `http://10.0.0.${n}:8008/patroni`,
      state: 'running',
      role,
      version: '3.0.2',
      xlog_location: xlog,
      timeline: 2,
    },
  };
}

const baseView: ClusterView = {
  ...emptyClusterView,
  revision: '30',
  initialize: '7123456789012345678',
  config: {
    index: '2',
    data: { ttl: 30, loop_wait: 10, retry_timeout: 10, postgresql: { use_pg_rewind: true } },
  },
  leader: { name: 'pg1', index: '3', session: '1' },
  members: [member('pg2', 'replica', 99 * MB), member('pg1', 'master', 100 * MB)],
  status: { optime: 100 * MB },
  history: [[1, 50331808, 'no recovery target specified', '2026-11-25T19:57:57.123000+00:00', 'pg1']],
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
    pg: pgStatus(),
    systemIdentifier: '7123456789012345678',
    isLeader: true,
    view: baseView,
    dcsLastSeen: 1795637530,
    paused: false,
    synchronousMode: false,
    ...over,
  };
}

const replicaReport = (over: Partial<NodeReport> = {}): NodeReport =>
  leaderReport({
    name: 'pg2',
    connUrl: 'postgres://10.0.0.2:5432/postgres',
    apiUrl: 'http://10.0.0.2:8008/patroni',
    role: 'replica',
    isLeader: false,
    pg: replicaPg(),
    ...over,
  });

let app: FastifyInstance | null = null;
afterEach(async () => {
  await app?.close();
  app = null;
});

interface Knobs {
  report: NodeReport;
  nextRun?: number;
  now?: number;
}

async function api(k: Knobs): Promise<FastifyInstance> {
  app = await buildApi({
    report: () => k.report,
    settings: () => ({ ttl: 30, loop_wait: 10 }),
    nextRun: () => k.nextRun ?? NOW + 10_000,
    now: () => k.now ?? NOW,
    config: () =>
      makeNodeConfig({ name: 'pg1', pgPort: 5432, apiPort: 8008, dataDir: '/tmp/pgwarden-unused' }),
    ops: new FakeOps(),
  });
  return app;
}

describe('GET /patroni', () => {
  it('returns the status document as JSON', async () => {
    const r = leaderReport();
    const a = await api({ report: r });
    const res = await a.inject({ method: 'GET', url: '/patroni' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json()).toEqual(statusDocument(r));
    expect(res.json()).toMatchObject({
      state: 'running',
      role: 'master',
      xlog: { location: 100 * MB },
      timeline: 2,
      patroni: { version: '3.0.2', scope: 'batman', name: 'pg1' },
    });
  });

  it('on a replica', async () => {
    const a = await api({ report: replicaReport() });
    const body = (await a.inject({ method: 'GET', url: '/patroni' })).json();
    expect(body.role).toBe('replica');
    expect(body.xlog).toEqual({
      received_location: 100 * MB,
      replayed_location: 100 * MB,
      replayed_timestamp: null,
      paused: false,
    });
  });
});

describe('health checks over HTTP', () => {
  it('GET /primary: 200 on the leader with the status document', async () => {
    const r = leaderReport();
    const a = await api({ report: r });
    const res = await a.inject({ method: 'GET', url: '/primary' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(statusDocument(r));
  });

  it('GET /primary: 503 on a replica, still with the JSON body', async () => {
    const r = replicaReport();
    const a = await api({ report: r });
    const res = await a.inject({ method: 'GET', url: '/primary' });
    expect(res.statusCode).toBe(503);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json()).toEqual(statusDocument(r));
  });

  it('GET / is /primary', async () => {
    const a = await api({ report: leaderReport() });
    expect((await a.inject({ method: 'GET', url: '/' })).statusCode).toBe(200);
  });

  it.each([
    ['/replica', 503, 200],
    ['/read-only', 200, 200],
    ['/leader', 200, 503],
    ['/master', 200, 503],
    ['/read-write', 200, 503],
    ['/standby-leader', 503, 503],
    ['/health', 200, 200],
    ['/async', 503, 200],
    ['/sync', 503, 503],
  ])('GET %s: leader %d, replica %d', async (path, onLeader, onReplica) => {
    const a1 = await api({ report: leaderReport() });
    expect((await a1.inject({ method: 'GET', url: path })).statusCode).toBe(onLeader);
    await a1.close();
    const a2 = await api({ report: replicaReport() });
    expect((await a2.inject({ method: 'GET', url: path })).statusCode).toBe(onReplica);
  });

  it('query parameters reach the rules: lag and tag filters', async () => {
    const a = await api({ report: replicaReport({ pg: replicaPg(90 * MB), tags: { dc: 'east' } }) });
    const code = async (url: string) => (await a.inject({ method: 'GET', url })).statusCode;
    expect(await code('/replica')).toBe(200);
    expect(await code('/replica?lag=1MB')).toBe(503);
    expect(await code('/replica?lag=10MB')).toBe(200);
    expect(await code('/replica?lag=10mb')).toBe(200);
    expect(await code('/replica?tag_dc=east')).toBe(200);
    expect(await code('/replica?tag_dc=west')).toBe(503);
    expect(await code('/replica?lag=10MB&tag_dc=east')).toBe(200);
  });

  it.each(['/primary', '/', '/replica', '/read-only', '/health', '/leader'])(
    'HEAD %s: status only, empty body',
    async (path) => {
      const a = await api({ report: leaderReport() });
      const res = await a.inject({ method: 'HEAD', url: path });
      const expected = path === '/replica' ? 503 : 200;
      expect(res.statusCode).toBe(expected);
      expect(res.body).toBe('');
    },
  );

  it.each(['/primary', '/', '/replica', '/read-only', '/health', '/leader', '/nonsense'])(
    'OPTIONS %s on a replica: status only, empty body',
    async (path) => {
      const a = await api({ report: replicaReport() });
      const res = await a.inject({ method: 'OPTIONS', url: path });
      const expected = ['/replica', '/read-only', '/health'].includes(path) ? 200 : 503;
      expect(res.statusCode).toBe(expected);
      expect(res.body).toBe('');
    },
  );

  // Patroni routes HEAD for every path to the generic do_GET in status-only mode, so HEAD /patroni
  // (and the other informational paths) is a health check that matches no rule: 503, no body.
  it.each(['/patroni', '/cluster', '/history', '/config', '/metrics'])(
    'HEAD %s is the generic health check (503, status only), not the GET route',
    async (path) => {
      for (const report of [leaderReport(), replicaReport()]) {
        const a = await api({ report });
        const res = await a.inject({ method: 'HEAD', url: path });
        expect(res.statusCode).toBe(503);
        expect(res.body).toBe('');
        expect(res.headers['content-type']).toBeUndefined();
        await a.close();
      }
      const a = await api({ report: leaderReport() });
      expect((await a.inject({ method: 'GET', url: '/patroni' })).statusCode).toBe(200);
    },
  );

  it('HEAD with a query', async () => {
    const a = await api({ report: replicaReport({ pg: replicaPg(90 * MB) }) });
    const res = await a.inject({ method: 'HEAD', url: '/replica?lag=1MB' });
    expect(res.statusCode).toBe(503);
    expect(res.body).toBe('');
  });

  it('an unknown GET path → 503 with the status document', async () => {
    const r = leaderReport();
    const a = await api({ report: r });
    const res = await a.inject({ method: 'GET', url: '/no/such/thing?x=1' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual(statusDocument(r));
  });

  it('a POST to an unknown path → 501', async () => {
    const a = await api({ report: leaderReport() });
    const res = await a.inject({ method: 'POST', url: '/no-such-endpoint', payload: {} });
    expect(res.statusCode).toBe(501);
    const res2 = await a.inject({ method: 'POST', url: '/primary' });
    expect(res2.statusCode).toBe(501);
  });

  it('the report is read per request (no caching)', async () => {
    const k: Knobs = { report: replicaReport() };
    const a = await api(k);
    expect((await a.inject({ method: 'GET', url: '/primary' })).statusCode).toBe(503);
    k.report = leaderReport();
    expect((await a.inject({ method: 'GET', url: '/primary' })).statusCode).toBe(200);
  });
});

describe('/liveness and /readiness (status only)', () => {
  it('liveness: 200 while next_run + ttl (primary) is in the future', async () => {
    const k: Knobs = { report: leaderReport(), nextRun: NOW - 29_000 };
    const a = await api(k);
    const res = await a.inject({ method: 'GET', url: '/liveness' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('');
    k.nextRun = NOW - 30_000;
    expect((await a.inject({ method: 'GET', url: '/liveness' })).statusCode).toBe(503);
  });

  it('liveness: a replica gets 2*ttl', async () => {
    const k: Knobs = { report: replicaReport(), nextRun: NOW - 59_000 };
    const a = await api(k);
    expect((await a.inject({ method: 'GET', url: '/liveness' })).statusCode).toBe(200);
    k.nextRun = NOW - 60_000;
    expect((await a.inject({ method: 'GET', url: '/liveness' })).statusCode).toBe(503);
  });

  it('liveness: always 200 when paused', async () => {
    const a = await api({ report: leaderReport({ paused: true }), nextRun: NOW - 1_000_000 });
    expect((await a.inject({ method: 'GET', url: '/liveness' })).statusCode).toBe(200);
  });

  it('readiness: leader 200; running replica with a view 200; without view or not running 503', async () => {
    const k: Knobs = { report: leaderReport({ view: null }) };
    const a = await api(k);
    const code = async () => {
      const res = await a.inject({ method: 'GET', url: '/readiness' });
      expect(res.body).toBe('');
      return res.statusCode;
    };
    expect(await code()).toBe(200);
    k.report = replicaReport();
    expect(await code()).toBe(200);
    k.report = replicaReport({ view: null });
    expect(await code()).toBe(503);
    k.report = replicaReport({ state: 'starting' });
    expect(await code()).toBe(503);
  });

  it('HEAD and OPTIONS answer too', async () => {
    const a = await api({ report: replicaReport({ state: 'stopped', pg: null }) });
    for (const method of ['HEAD', 'OPTIONS'] as const) {
      const res = await a.inject({ method, url: '/readiness' });
      expect(res.statusCode).toBe(503);
      expect(res.body).toBe('');
      const live = await a.inject({ method, url: '/liveness' });
      expect(live.statusCode).toBe(200);
      expect(live.body).toBe('');
    }
  });
});

describe('informational endpoints', () => {
  it('GET /cluster: cluster_as_json', async () => {
    const a = await api({ report: replicaReport() });
    const res = await a.inject({ method: 'GET', url: '/cluster' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      members: [
        {
          name: 'pg1',
          role: 'leader',
          state: 'running',
          api_url: 'http://10.0.0.1:8008/patroni',
          host: '10.0.0.1',
          port: 5432,
          timeline: 2,
        },
        {
          name: 'pg2',
          role: 'replica',
          state: 'running',
          api_url: 'http://10.0.0.2:8008/patroni',
          host: '10.0.0.2',
          port: 5432,
          timeline: 2,
          lag: MB,
        },
      ],
      scope: 'batman',
    });
  });

  it('GET /cluster without a DCS view → 503', async () => {
    const a = await api({ report: replicaReport({ view: null }) });
    expect((await a.inject({ method: 'GET', url: '/cluster' })).statusCode).toBe(503);
  });

  it('GET /config: the /config value, or 502 without one', async () => {
    const k: Knobs = { report: leaderReport() };
    const a = await api(k);
    const ok = await a.inject({ method: 'GET', url: '/config' });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({
      ttl: 30,
      loop_wait: 10,
      retry_timeout: 10,
      postgresql: { use_pg_rewind: true },
    });
    k.report = leaderReport({ view: { ...baseView, config: null } });
    expect((await a.inject({ method: 'GET', url: '/config' })).statusCode).toBe(502);
    k.report = leaderReport({ view: null });
    expect((await a.inject({ method: 'GET', url: '/config' })).statusCode).toBe(502);
  });

  it('GET /failsafe: 502 Bad Gateway without a /failsafe key (as Patroni); HEAD is a health check', async () => {
    const a = await api({ report: leaderReport() });
    const res = await a.inject({ method: 'GET', url: '/failsafe' });
    expect({ status: res.statusCode, body: res.body }).toEqual({ status: 502, body: 'Bad Gateway' });
    expect((await a.inject({ method: 'HEAD', url: '/failsafe' })).statusCode).toBe(503);
  });

  it('GET /failsafe: the /failsafe key as the node last saw it, {name: api_url}', async () => {
    const failsafe = { node1: 'http://127.0.0.1:8008/patroni', node2: 'http://127.0.0.1:8009/patroni' };
    const a = await api({ report: leaderReport({ view: { ...baseView, failsafe } }) });
    const res = await a.inject({ method: 'GET', url: '/failsafe' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(failsafe);
  });

  it('GET /history: the lines, or [] without', async () => {
    const k: Knobs = { report: leaderReport() };
    const a = await api(k);
    const res = await a.inject({ method: 'GET', url: '/history' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual([
      [1, 50331808, 'no recovery target specified', '2026-11-25T19:57:57.123000+00:00', 'pg1'],
    ]);
    k.report = leaderReport({ view: { ...baseView, history: null } });
    expect((await a.inject({ method: 'GET', url: '/history' })).json()).toEqual([]);
  });
});
