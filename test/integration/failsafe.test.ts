/**
 * Failsafe mode on real processes (three agents, etcd 3.4, PostgreSQL 15): with `failsafe_mode`
 * on, etcd stopped for 60 s costs no demotion and no write outage while every member confirms the
 * leader; with a member that cannot answer (its agent frozen), the leader demotes by its deadline
 * as without failsafe mode. A client writes to the leader's port every 100 ms throughout.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type ClusterNode, REST_AUTH } from '../../src/local/cluster.ts';
import {
  eventually,
  inRecovery,
  leaderNode,
  sleep,
  sql,
  useLocalCluster,
  writingTo,
} from '../helpers/cluster-tools.ts';

vi.setConfig({ testTimeout: 240_000 });

const TTL = 10;
const OUTAGE_MS = 60_000;
const clusterOf = useLocalCluster(
  {
    nodes: 3,
    scope: 'failsafe',
    dcs: { ttl: TTL, loop_wait: 2, retry_timeout: 4, failsafe_mode: true },
    journal: true,
  },
  { beforeAll, afterAll, afterEach },
);

const AUTH = `Basic ${Buffer.from(`${REST_AUTH.username}:${REST_AUTH.password}`).toString('base64')}`;

/** Writes to `node` every 100 ms until stopped: the longest time between two acknowledged writes. */
function writer(node: ClusterNode) {
  const started = Date.now();
  const w = writingTo(node, 'INSERT INTO failsafe_writes (at) VALUES (now())', 100);
  return {
    async stop() {
      const { acks, failed } = await w.stop();
      const times = [started, ...acks, Date.now()];
      const longestGapMs = Math.max(...times.slice(1).map((t, i) => t - times[i]!));
      return { longestGapMs, ok: acks.length, failed };
    },
  };
}

async function patroni(node: ClusterNode): Promise<Record<string, unknown>> {
  const res = await fetch(`${node.apiUrl}/patroni`);
  return (await res.json()) as Record<string, unknown>;
}

describe('failsafe mode on real processes', () => {
  it('the leader names every member in /failsafe', async () => {
    const leader = await leaderNode(clusterOf());
    const topology = await eventually('/failsafe names all three', async () => {
      const res = await fetch(`${leader.apiUrl}/failsafe`);
      const doc = res.status === 200 ? ((await res.json()) as Record<string, string>) : {};
      if (Object.keys(doc).length !== 3) throw new Error(`${res.status} ${JSON.stringify(doc)}`);
      return doc;
    });
    for (const n of clusterOf().nodes) expect(topology[n.name]).toBe(n.apiUrl + '/patroni');
    await sql(leader, 'CREATE TABLE IF NOT EXISTS failsafe_writes (at timestamptz)');
  });

  it('etcd stopped for 60 s: no demotion, no write outage, failsafe mode shown active; nothing moves when etcd returns', async () => {
    const cluster = clusterOf();
    const leader = await leaderNode(clusterOf());
    const timeline = (await patroni(leader))['timeline'];
    const w = writer(leader);
    await sleep(1000);
    await cluster.stopEtcd();
    const stoppedAt = Date.now();
    let sawActive = false;
    while (Date.now() - stoppedAt < OUTAGE_MS) {
      const doc = await patroni(leader).catch(() => ({}) as Record<string, unknown>);
      sawActive ||= doc['failsafe_mode_is_active'] === true;
      for (const n of cluster.nodes) if (n !== leader) expect(await inRecovery(n)).not.toBe(false);
      await sleep(1000);
    }
    const metrics = await (
      await fetch(`${leader.apiUrl}/metrics`, { headers: { authorization: AUTH } })
    ).text();
    expect(metrics).toMatch(/patroni_failsafe_mode_is_active\{[^}]*\} 1/);
    await cluster.startEtcd();
    expect(await cluster.waitUntilReady({ timeoutMs: 60_000 })).toBe(true);
    const result = await w.stop();
    process.stderr.write(`failsafe outage: ${JSON.stringify(result)}\n`);
    expect(sawActive).toBe(true);
    // One write every 100 ms; a demotion would stop them for tens of seconds.
    expect(result.longestGapMs).toBeLessThan(2000);
    expect(await cluster.leader()).toBe(leader.name);
    expect((await patroni(leader))['timeline']).toBe(timeline);
    await eventually('failsafe mode no longer active', async () => {
      if ((await patroni(leader))['failsafe_mode_is_active'] === true) throw new Error('still active');
    });
  });

  it('etcd stopped while a member cannot answer (its agent frozen): the leader demotes by its deadline', async () => {
    const cluster = clusterOf();
    const leader = await leaderNode(clusterOf());
    const frozen = cluster.nodes.find((n) => n !== leader)!;
    cluster.freezeAgent(frozen.name, true);
    try {
      await cluster.stopEtcd();
      const stoppedAt = Date.now();
      let lastWritable = 0;
      while (Date.now() - stoppedAt < (TTL + 5) * 1000) {
        if ((await inRecovery(leader)) === false) lastWritable = Date.now() - stoppedAt;
        await sleep(250);
      }
      expect(lastWritable).toBeLessThanOrEqual(TTL * 1000);
      expect(await inRecovery(leader)).toBe(true);
    } finally {
      cluster.freezeAgent(frozen.name, false);
      await cluster.startEtcd();
    }
    expect(await cluster.waitUntilReady({ timeoutMs: 90_000 })).toBe(true);
  });
});
