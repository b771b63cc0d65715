/**
 * The REST API of a real three-node cluster, endpoint by endpoint (reference §2): health checks
 * on the leader, a replica and a noloadbalance replica, tag filters, `?lag=` on a replica whose
 * replay is paused, HEAD/OPTIONS, liveness/readiness, metrics, /cluster, /history, /config,
 * PATCH /config (refused and accepted: pause/resume) and Basic auth.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type ClusterNode, LocalCluster, REST_AUTH } from '../../src/local/cluster.ts';
import { dumpLogs, etcdValue, eventually, sql } from '../helpers/cluster-tools.ts';

vi.setConfig({ testTimeout: 120_000 });

const SCOPE = 'api';
const MB = 1024 * 1024;
const auth = `Basic ${Buffer.from(`${REST_AUTH.username}:${REST_AUTH.password}`).toString('base64')}`;

let cluster: LocalCluster;
let dir: string;
let failed = false;
/** node1 (index 0) leads; node2 (index 1) has `zone: a`; node3 (index 2) has `noloadbalance`. */
let leader: ClusterNode;
let replica: ClusterNode;
let nlb: ClusterNode;

interface Answer {
  status: number;
  text: string;
  headers: Headers;
}

async function call(
  node: ClusterNode,
  path: string,
  o: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const res = await fetch(`${node.apiUrl}${path}`, {
    method: o.method ?? 'GET',
    headers: o.headers,
    body: o.body === undefined ? undefined : JSON.stringify(o.body),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

const json = async <T = Record<string, unknown>>(node: ClusterNode, path: string): Promise<T> => {
  const r = await call(node, path);
  expect(r.status, `${node.name} GET ${path}`).toBe(200);
  return JSON.parse(r.text) as T;
};

const patchConfig = (body: unknown) =>
  call(leader, '/config', { method: 'PATCH', body, headers: { authorization: auth } });

/** A key under /service/<scope>/ with its mod_revision (to prove nothing was written). */
async function etcdKv(key: string): Promise<{ value: string; modRevision: string } | null> {
  const res = await fetch(`${cluster.etcdEndpoint}/v3/kv/range`, {
    method: 'POST',
    body: JSON.stringify({ key: Buffer.from(`/service/${SCOPE}/${key}`).toString('base64') }),
    signal: AbortSignal.timeout(5000),
  });
  const doc = (await res.json()) as { kvs?: Array<{ value?: string; mod_revision: string }> };
  const kv = doc.kvs?.[0];
  return kv
    ? { value: Buffer.from(kv.value ?? '', 'base64').toString(), modRevision: kv.mod_revision }
    : null;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pgwarden-api-'));
  cluster = new LocalCluster({
    dir,
    nodes: 3,
    scope: SCOPE,
    dcs: { ttl: 10, loop_wait: 2, retry_timeout: 4 },
    tags: (i) => (i === 1 ? { zone: 'a' } : i === 2 ? { noloadbalance: true } : {}),
  });
  await cluster.init();
  [leader, replica, nlb] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode];
  // node1 bootstraps alone, so the leader (and the roles below) are known in advance.
  cluster.startNode(leader.name);
  expect(
    await cluster.waitFor(
      (nodes) => nodes[0]?.status?.role === 'master' && nodes[0].status.state === 'running',
      60_000,
    ),
  ).toBe(true);
  cluster.startNode(replica.name);
  cluster.startNode(nlb.name);
  const ready = await cluster.waitUntilReady({ timeoutMs: 90_000 });
  if (!ready) dumpLogs(cluster); // tests are skipped when setup fails: show why now
  expect(ready).toBe(true);
  expect(await etcdValue(cluster, SCOPE, 'leader')).toBe(leader.name);
});

afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') failed = true;
});

afterAll(async () => {
  if (failed) dumpLogs(cluster);
  await cluster?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** §2.4 with synchronous_mode off: [leader, replica, noloadbalance replica]. */
const HEALTH: Record<string, [number, number, number]> = {
  '/': [200, 503, 503],
  '/primary': [200, 503, 503],
  '/master': [200, 503, 503],
  '/read-write': [200, 503, 503],
  '/leader': [200, 503, 503],
  '/standby-leader': [503, 503, 503],
  '/standby_leader': [503, 503, 503],
  '/replica': [503, 200, 503],
  '/read-only': [200, 200, 503],
  '/health': [200, 200, 200],
  '/async': [503, 200, 503],
  '/asynchronous': [503, 200, 503],
  '/sync': [503, 503, 503],
  '/synchronous': [503, 503, 503],
  '/read-only-sync': [200, 503, 503],
};

describe('REST API of a real three-node cluster', () => {
  it('health checks on the leader, a replica and a noloadbalance replica (GET, HEAD, OPTIONS)', async () => {
    const nodes = [leader, replica, nlb];
    const got: Record<string, number[]> = {};
    const expected: Record<string, number[]> = {};
    for (const [path, codes] of Object.entries(HEALTH)) {
      for (const method of ['GET', 'HEAD', 'OPTIONS']) {
        const key = `${method} ${path}`;
        expected[key] = codes;
        got[key] = [];
        for (const [i, node] of nodes.entries()) {
          const r = await call(node, path, { method });
          got[key]!.push(r.status);
          if (method === 'GET') {
            const doc = JSON.parse(r.text) as { state: string; role: string };
            expect(doc.state).toBe('running');
            expect(doc.role).toBe(i === 0 ? 'master' : 'replica');
          } else {
            expect(r.text, `${key} on ${node.name}: status only`).toBe('');
          }
        }
      }
    }
    expect(got).toEqual(expected);
  });

  it('tag filters: only where the tag matches, and never on leader/primary checks', async () => {
    const codes = async (path: string) =>
      Promise.all([leader, replica, nlb].map(async (n) => (await call(n, path)).status));
    expect(await codes('/replica?tag_zone=a')).toEqual([503, 200, 503]);
    expect(await codes('/replica?tag_zone=b')).toEqual([503, 503, 503]);
    expect(await codes('/health?tag_zone=a')).toEqual([503, 200, 503]);
    expect(await codes('/read-only?tag_zone=a')).toEqual([503, 200, 503]);
    // Rows 1-3 of the table ignore tags.
    expect(await codes('/primary?tag_zone=b')).toEqual([200, 503, 503]);
    expect(await codes('/leader?tag_zone=b')).toEqual([200, 503, 503]);
    for (const method of ['HEAD', 'OPTIONS']) {
      const r = await call(replica, '/replica?tag_zone=a', { method });
      expect({ status: r.status, text: r.text }).toEqual({ status: 200, text: '' });
    }
  });

  it('?lag= on a replica whose replay is paused: 503 within 1MB, 200 within 1GB, 200 again once resumed', async () => {
    await sql(replica, 'SELECT pg_wal_replay_pause()');
    try {
      await eventually('replay paused', async () => {
        const rows = await sql<{ s: string }>(replica, 'SELECT pg_get_wal_replay_pause_state() AS s');
        expect(rows[0]!.s).toBe('paused');
      });
      const [{ lsn: before }] = (await sql<{ lsn: string }>(
        replica,
        "SELECT pg_last_wal_replay_lsn() - '0/0' AS lsn",
      )) as [{ lsn: string }];
      await sql(
        leader,
        "CREATE TABLE lag_fill AS SELECT g, repeat('x', 1000) AS pad FROM generate_series(1, 3000) g",
      );
      const [{ lsn: written }] = (await sql<{ lsn: string }>(
        leader,
        "SELECT pg_current_wal_lsn() - '0/0' AS lsn",
      )) as [{ lsn: string }];
      expect(Number(written) - Number(before)).toBeGreaterThan(2 * MB);
      // The leader publishes its optime in /status at its next loop.
      await eventually('the leader optime in /status moved past the write', async () => {
        const status = JSON.parse((await etcdValue(cluster, SCOPE, 'status')) ?? '{}') as { optime?: number };
        expect(status.optime ?? 0).toBeGreaterThanOrEqual(Number(written));
      });
      await eventually('the paused replica lags by more than 1MB', async () => {
        expect((await call(replica, '/replica?lag=1MB')).status).toBe(503);
      });
      expect((await call(replica, '/replica?lag=1048576')).status).toBe(503);
      expect((await call(replica, '/replica?lag=1GB')).status).toBe(200);
      expect((await call(replica, '/replica')).status).toBe(200);
      expect((await call(replica, '/replica?lag=1MB', { method: 'HEAD' })).status).toBe(503);
      // Unparseable or unknown units: no limit (§2.5).
      expect((await call(replica, '/replica?lag=1mb')).status).toBe(200);
      expect((await call(replica, '/replica?lag=garbage')).status).toBe(200);
      // /patroni shows the pause: received keeps moving, replayed does not. (/cluster's lag is
      // computed from xlog_location, the received position in Patroni, so it stays small.)
      await eventually('the replica reports its replay paused', async () => {
        const { xlog } = await json<{
          xlog: { paused: boolean; received_location: number; replayed_location: number };
        }>(replica, '/patroni');
        expect(xlog.paused).toBe(true);
        expect(xlog.replayed_location).toBeLessThanOrEqual(Number(before));
        expect(xlog.received_location - xlog.replayed_location).toBeGreaterThan(MB);
      });
      // The other replicas keep replaying: no lag on them.
      await eventually('the other replica is not lagging', async () => {
        expect((await call(nlb, '/read-only?lag=1GB')).status).toBe(503); // noloadbalance whatever the lag
        const doc = await json<{ members: Array<{ name: string; lag: number }> }>(leader, '/cluster');
        expect(doc.members.find((m) => m.name === nlb.name)!.lag).toBeLessThan(MB);
      });
    } finally {
      await sql(replica, 'SELECT pg_wal_replay_resume()');
    }
    await eventually(
      'the replica caught up',
      async () => expect((await call(replica, '/replica?lag=1MB')).status).toBe(200),
      30_000,
    );
  });

  it('/liveness and /readiness: 200, status only', async () => {
    for (const node of [leader, replica, nlb]) {
      for (const path of ['/liveness', '/readiness']) {
        for (const method of ['GET', 'HEAD', 'OPTIONS']) {
          const r = await call(node, path, { method });
          expect({ node: node.name, path, method, status: r.status, text: r.text }).toEqual({
            node: node.name,
            path,
            method,
            status: 200,
            text: '',
          });
        }
      }
    }
  });

  it('GET /metrics: patroni_primary on the leader, patroni_replica on the replicas', async () => {
    for (const node of [leader, replica, nlb]) {
      const r = await call(node, '/metrics');
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toContain('text/plain');
      const labels = `{scope="${SCOPE}",name="${node.name}"}`;
      const isLeader = node === leader;
      expect(r.text).toContain(`\npatroni_primary${labels} ${isLeader ? 1 : 0}\n`);
      expect(r.text).toContain(`\npatroni_master${labels} ${isLeader ? 1 : 0}\n`);
      expect(r.text).toContain(`\npatroni_replica${labels} ${isLeader ? 0 : 1}\n`);
      expect(r.text).toContain(`\npatroni_postgres_running${labels} 1\n`);
      expect(r.text).toContain(`\npatroni_cluster_unlocked${labels} 0\n`);
      expect(r.text).toMatch(/^# HELP patroni_version /);
    }
  });

  it('GET /cluster lists the three members with roles, states, tags and lag', async () => {
    await eventually('the replicas caught up in /cluster', async () => {
      const doc = await json<{
        scope: string;
        pause?: boolean;
        members: Array<{
          name: string;
          role: string;
          state: string;
          lag?: unknown;
          tags?: Record<string, unknown>;
        }>;
      }>(replica, '/cluster');
      expect(doc.scope).toBe(SCOPE);
      expect(doc.pause).toBeUndefined();
      expect(doc.members.map((m) => [m.name, m.role, m.state])).toEqual([
        [leader.name, 'leader', 'running'],
        [replica.name, 'replica', 'streaming'],
        [nlb.name, 'replica', 'streaming'],
      ]);
      const [l, r, n] = doc.members;
      expect(l!.lag).toBeUndefined();
      expect(typeof r!.lag).toBe('number');
      expect(typeof n!.lag).toBe('number');
      expect(r!.tags).toMatchObject({ zone: 'a' });
      expect(n!.tags).toMatchObject({ noloadbalance: true });
    });
  });

  it('GET /history is [] before any failover', async () => {
    for (const node of [leader, replica]) {
      expect(await json<unknown[]>(node, '/history')).toEqual([]);
    }
  });

  it('GET /config is the DCS /config', async () => {
    const dcs = JSON.parse((await etcdValue(cluster, SCOPE, 'config'))!) as Record<string, unknown>;
    expect(dcs).toMatchObject({ ttl: 10, loop_wait: 2, retry_timeout: 4 });
    for (const node of [leader, replica, nlb]) {
      expect(await json(node, '/config')).toEqual(dcs);
    }
  });

  it('PATCH /config with a value ttl cannot take: 400, nothing written', async () => {
    const before = await etcdKv('config');
    expect(before).not.toBeNull();
    for (const ttl of ['abc', true, [], { v: 30 }, -5, 1.5, '30s']) {
      const r = await patchConfig({ ttl, pause: true });
      expect({ ttl, status: r.status }).toEqual({ ttl, status: 400 });
      expect(r.text).toContain('ttl');
    }
    expect(await etcdKv('config')).toEqual(before);
    expect((await json(leader, '/cluster'))['pause']).toBeUndefined();
  });

  it('PATCH {"pause": true} pauses the cluster, {"pause": null} resumes it', async () => {
    const r = await patchConfig({ pause: true });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text)).toMatchObject({ pause: true, ttl: 10 });
    expect(JSON.parse((await etcdValue(cluster, SCOPE, 'config'))!)).toMatchObject({ pause: true });
    await eventually('every node shows the pause', async () => {
      for (const node of [leader, replica, nlb]) {
        expect((await json(node, '/cluster'))['pause']).toBe(true);
        expect((await json(node, '/patroni'))['pause']).toBe(true);
      }
    });
    // Paused: liveness answers 200 whatever the loop does (§2.6), the leader is unchanged.
    expect((await call(replica, '/liveness')).status).toBe(200);
    expect(await etcdValue(cluster, SCOPE, 'leader')).toBe(leader.name);

    const resumed = await patchConfig({ pause: null });
    expect(resumed.status).toBe(200);
    expect(JSON.parse(resumed.text)).not.toHaveProperty('pause');
    expect(JSON.parse((await etcdValue(cluster, SCOPE, 'config'))!)).not.toHaveProperty('pause');
    await eventually('every node shows the cluster resumed', async () => {
      for (const node of [leader, replica, nlb]) {
        expect(await json(node, '/cluster')).not.toHaveProperty('pause');
        expect(await json(node, '/patroni')).not.toHaveProperty('pause');
      }
    });
    expect(await cluster.waitUntilReady({ timeoutMs: 30_000 })).toBe(true);
  });

  it('POST /restart without credentials or with a wrong password: 401, nothing restarted', async () => {
    const started = (await json(leader, '/patroni'))['postmaster_start_time'];
    const none = await call(leader, '/restart', { method: 'POST', body: {} });
    expect({ status: none.status, text: none.text }).toEqual({
      status: 401,
      text: 'no auth header received',
    });
    expect(none.headers.get('www-authenticate')).toBe('Basic realm="Patroni"');
    const wrong = await call(leader, '/restart', {
      method: 'POST',
      body: {},
      headers: { authorization: `Basic ${Buffer.from(`${REST_AUTH.username}:wrong`).toString('base64')}` },
    });
    expect({ status: wrong.status, text: wrong.text }).toEqual({ status: 401, text: 'not authenticated' });
    expect(wrong.headers.get('www-authenticate')).toBe('Basic realm="Patroni"');
    expect((await json(leader, '/patroni'))['postmaster_start_time']).toBe(started);
  });
});
