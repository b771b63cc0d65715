/**
 * Operator actions over REST on a real cluster: switchover (immediate and scheduled), restart,
 * reinitialize, reload, with Basic auth as patronictl sends it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type ClusterNode, REST_AUTH } from '../../src/local/cluster.ts';
import { etcdValue, eventually, inRecovery, sleep, sql, useLocalCluster } from '../helpers/cluster-tools.ts';

vi.setConfig({ testTimeout: 120_000 });

const clusterOf = useLocalCluster(
  { nodes: 3, scope: 'ops', dcs: { ttl: 10, loop_wait: 2, retry_timeout: 4 }, journal: true },
  { beforeAll, afterAll, afterEach },
);

const auth = `Basic ${Buffer.from(`${REST_AUTH.username}:${REST_AUTH.password}`).toString('base64')}`;

async function call(node: ClusterNode, method: string, path: string, body?: unknown, withAuth = true) {
  const headers: Record<string, string> = {};
  if (withAuth) headers['authorization'] = auth;
  const res = await fetch(`${node.apiUrl}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(60_000),
  });
  return { status: res.status, text: await res.text() };
}

const leaderKey = () => etcdValue(clusterOf(), 'ops', 'leader');
const primary = () => clusterOf().nodes.find((n) => n.status?.role === 'master')!;

describe('operator actions on a real cluster', () => {
  it('mutating endpoints want credentials', async () => {
    const r = await call(clusterOf().nodes[0]!, 'POST', '/restart', {}, false);
    expect(r).toEqual({ status: 401, text: 'no auth header received' });
  });

  it('switchover to a named candidate: the old leader follows it, no write is lost', async () => {
    const old = primary();
    const candidate = clusterOf().nodes.find((n) => n !== old)!;
    await sql(old, 'CREATE TABLE ops_test (id int PRIMARY KEY)');
    await sql(old, 'INSERT INTO ops_test VALUES (1)');
    const started = Date.now();
    const r = await call(old, 'POST', '/switchover', { leader: old.name, candidate: candidate.name });
    expect(r).toEqual({ status: 200, text: `Successfully switched over to "${candidate.name}"` });
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(await leaderKey()).toBe(candidate.name);
    expect(await inRecovery(candidate)).toBe(false);
    expect(await sql(candidate, 'SELECT id FROM ops_test')).toEqual([{ id: 1 }]);
    await sql(candidate, 'INSERT INTO ops_test VALUES (2)');
    await eventually(
      'the old leader streams from the new one',
      async () => {
        expect(await inRecovery(old)).toBe(true);
        expect(await sql(old, 'SELECT count(*)::int AS n FROM ops_test')).toEqual([{ n: 2 }]);
      },
      60_000,
    );
    expect(JSON.parse((await etcdValue(clusterOf(), 'ops', 'failover')) ?? '{}')).toEqual({});
  });

  it('switchover errors come back as Patroni words them', async () => {
    await clusterOf().poll();
    const leader = primary();
    const other = clusterOf().nodes.find((n) => n !== leader)!;
    expect(await call(leader, 'POST', '/switchover', { leader: other.name })).toEqual({
      status: 412,
      text: 'leader name does not match',
    });
    expect(await call(leader, 'POST', '/switchover', { leader: leader.name, candidate: 'nobody' })).toEqual({
      status: 412,
      text: 'candidate does not exists',
    });
    expect(await call(leader, 'DELETE', '/switchover')).toEqual({
      status: 404,
      text: 'no switchover is scheduled',
    });
  });

  it('a failover to the current leader fails at once, as in Patroni (503 Failover failed, not 20 s of status unknown)', async () => {
    await clusterOf().poll();
    const leader = primary();
    const started = Date.now();
    expect(await call(leader, 'POST', '/failover', { candidate: leader.name })).toEqual({
      status: 503,
      text: 'Failover failed',
    });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await leaderKey()).toBe(leader.name);
  });

  it('a scheduled switchover waits for its time, then happens', async () => {
    await clusterOf().poll();
    const leader = primary();
    const candidate = clusterOf().nodes.find((n) => n !== leader)!;
    const at = new Date(Date.now() + 4000).toISOString();
    const r = await call(leader, 'POST', '/switchover', {
      leader: leader.name,
      candidate: candidate.name,
      scheduled_at: at,
    });
    expect(r).toEqual({ status: 202, text: 'Switchover scheduled' });
    const cluster1 = (await (await fetch(`${leader.apiUrl}/cluster`)).json()) as {
      scheduled_switchover?: unknown;
    };
    expect(cluster1.scheduled_switchover).toMatchObject({ from: leader.name, to: candidate.name });
    expect(await leaderKey()).toBe(leader.name);
    await eventually(
      'the scheduled switchover ran',
      async () => expect(await leaderKey()).toBe(candidate.name),
      30_000,
    );
  });

  it('a switchover and a restart scheduled 30 days ahead stay scheduled (past Node’s 24.8-day timer limit)', async () => {
    await clusterOf().waitUntilReady({ timeoutMs: 60_000 });
    const leader = primary();
    const replica = clusterOf().nodes.find((n) => n.status?.role === 'replica')!;
    const candidate = clusterOf().nodes.find((n) => n !== leader && n !== replica)!;
    const timeline = leader.status?.timeline;
    const postmaster = replica.status?.postmaster_start_time;
    const at = new Date(Date.now() + 30 * 86_400_000).toISOString();
    expect(
      await call(leader, 'POST', '/switchover', {
        leader: leader.name,
        candidate: candidate.name,
        scheduled_at: at,
      }),
    ).toEqual({ status: 202, text: 'Switchover scheduled' });
    expect(await call(replica, 'POST', '/restart', { schedule: at })).toEqual({
      status: 202,
      text: 'Restart scheduled',
    });
    expect(await call(replica, 'POST', '/restart', { schedule: at })).toEqual({
      status: 409,
      text: 'Another restart is already scheduled',
    });
    // Several loop_waits (2 s): a timer that overflowed would have fired after 1 ms.
    await sleep(8_000);
    const cluster = (await (await fetch(`${replica.apiUrl}/cluster`)).json()) as {
      scheduled_switchover?: { at?: string; from?: string; to?: string };
    };
    expect(cluster.scheduled_switchover).toMatchObject({ from: leader.name, to: candidate.name });
    const status = (await clusterOf().fetchStatus(replica))!;
    expect(status).toMatchObject({ role: 'replica', postmaster_start_time: postmaster });
    expect(
      (status as { scheduled_restart?: { schedule?: string } }).scheduled_restart?.schedule,
    ).toBeDefined();
    expect(await leaderKey()).toBe(leader.name);
    expect((await clusterOf().fetchStatus(leader))?.timeline).toBe(timeline);
    expect(await call(leader, 'DELETE', '/switchover')).toEqual({
      status: 200,
      text: 'scheduled switchover deleted',
    });
    expect(await call(replica, 'DELETE', '/restart')).toEqual({
      status: 200,
      text: 'scheduled restart deleted',
    });
    for (const n of clusterOf().nodes)
      expect(readFileSync(n.logFile, 'utf8')).not.toContain('TimeoutOverflowWarning');
  });

  it('restart of a replica: a new postmaster, still a replica', async () => {
    await clusterOf().waitUntilReady({ timeoutMs: 60_000 });
    const replica = clusterOf().nodes.find((n) => n.status?.role === 'replica')!;
    const before = replica.status?.postmaster_start_time;
    expect(await call(replica, 'POST', '/restart', {})).toEqual({
      status: 200,
      text: 'restarted successfully',
    });
    const after = await clusterOf().fetchStatus(replica);
    expect(after?.postmaster_start_time).not.toBe(before);
    expect(after?.role).toBe('replica');
    expect(await call(replica, 'POST', '/restart', { role: 'master' })).toEqual({
      status: 503,
      text: 'restart conditions are not satisfied',
    });
  });

  it('a restart scheduled 3 s ahead runs at its time: a new postmaster, no sooner', async () => {
    await clusterOf().waitUntilReady({ timeoutMs: 60_000 });
    const replica = clusterOf().nodes.find((n) => n.status?.role === 'replica')!;
    const before = replica.status?.postmaster_start_time;
    const at = new Date(Date.now() + 3000);
    expect(await call(replica, 'POST', '/restart', { schedule: at.toISOString() })).toEqual({
      status: 202,
      text: 'Restart scheduled',
    });
    const restarted = await eventually('the scheduled restart', async () => {
      const s = await clusterOf().fetchStatus(replica);
      if (!s?.postmaster_start_time || s.postmaster_start_time === before) throw new Error('not yet');
      return s;
    });
    expect(Date.parse(String(restarted.postmaster_start_time))).toBeGreaterThanOrEqual(at.getTime() - 1000);
    expect(restarted.role).toBe('replica');
  });

  it('reinitialize: refused on the leader, rebuilds a replica', async () => {
    await clusterOf().waitUntilReady({ timeoutMs: 60_000 });
    const leader = primary();
    const replica = clusterOf().nodes.find((n) => n.status?.role === 'replica')!;
    expect(await call(leader, 'POST', '/reinitialize', {})).toEqual({
      status: 503,
      text: 'I am the leader, can not reinitialize',
    });
    expect(await call(replica, 'POST', '/reinitialize', { force: true })).toEqual({
      status: 200,
      text: 'reinitialize started',
    });
    expect(await clusterOf().waitUntilReady({ timeoutMs: 60_000 })).toBe(true);
    expect(await sql(replica, 'SELECT count(*)::int AS n FROM ops_test')).toEqual([{ n: 2 }]);
  });

  it('PATCH /config of ttl, again and again: the leader moves onto a new lease each time, no demotion, same timeline', async () => {
    await clusterOf().waitUntilReady({ timeoutMs: 60_000 });
    const leader = primary();
    const before = (await clusterOf().fetchStatus(leader))!;
    const logFrom = readFileSync(leader.logFile, 'utf8').length;
    const leaseTtl = async () => {
      const res = await fetch(`${clusterOf().etcdEndpoint}/v3/kv/range`, {
        method: 'POST',
        body: JSON.stringify({ key: Buffer.from('/service/ops/leader').toString('base64') }),
      });
      const lease = ((await res.json()) as { kvs: Array<{ lease: string }> }).kvs[0]!.lease;
      const t = await fetch(`${clusterOf().etcdEndpoint}/v3/lease/timetolive`, {
        method: 'POST',
        body: JSON.stringify({ ID: lease }),
      });
      return Number(((await t.json()) as { grantedTTL: string }).grantedTTL);
    };
    // The values an operator tried by hand (each once cost a demotion and a timeline), then 20.
    for (const ttl of [40, 25, 33, 31, 20]) {
      const r = await call(leader, 'PATCH', '/config', {
        ttl,
        postgresql: { parameters: { work_mem: '8MB' } },
      });
      expect(r.status).toBe(200);
      expect(JSON.parse(r.text)).toMatchObject({
        ttl,
        loop_wait: 2,
        postgresql: { parameters: { work_mem: '8MB' } },
      });
      await eventually(
        `the leader key sits on a ${ttl} s lease`,
        async () => expect(await leaseTtl()).toBe(ttl),
        15_000,
      );
    }
    expect(await leaderKey()).toBe(leader.name);
    const after = (await clusterOf().fetchStatus(leader))!;
    expect(after).toMatchObject({
      role: 'master',
      timeline: before.timeline,
      postmaster_start_time: before.postmaster_start_time,
    });
    expect(readFileSync(leader.logFile, 'utf8').slice(logFrom)).not.toMatch(/demot|lost the lock|lock lost/i);
    for (const n of clusterOf().nodes) {
      const cfg = (await (await fetch(`${n.apiUrl}/config`)).json()) as { ttl: number };
      expect(cfg.ttl).toBe(20);
      await eventually(`work_mem on ${n.name}`, async () =>
        expect(await sql(n, 'SHOW work_mem')).toEqual([{ work_mem: '8MB' }]),
      );
      // Each node keeps the /config it applied where Patroni keeps it, to start with it next time.
      await eventually(`patroni.dynamic.json on ${n.name}`, async () =>
        expect(JSON.parse(readFileSync(path.join(n.dataDir, 'patroni.dynamic.json'), 'utf8'))).toMatchObject({
          ttl: 20,
          postgresql: { parameters: { work_mem: '8MB' } },
        }),
      );
    }
  });

  it('reload is accepted', async () => {
    expect(await call(clusterOf().nodes[0]!, 'POST', '/reload')).toEqual({
      status: 202,
      text: 'reload scheduled',
    });
  });
});
