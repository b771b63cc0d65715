import { afterEach, describe, expect, it } from 'vitest';
import { createSimulatedCluster, type SimulatedCluster } from '../../src/testing/index.ts';

const open: SimulatedCluster[] = [];
afterEach(async () => {
  for (const c of open.splice(0)) await c.stop();
});

function cluster(seed = 1, dcs: Record<string, unknown> = {}) {
  const c = createSimulatedCluster({
    nodes: 3,
    seed,
    dcs: { ttl: 30, loop_wait: 10, retry_timeout: 10, ...dcs },
  });
  open.push(c);
  return c;
}

const healthy = (c: SimulatedCluster) => c.primaries().length === 1 && c.streamingReplicas().length === 2;

/** Bootstrap, kill the leader, restart it: what happened, in order. */
async function failoverScenario(seed: number) {
  const c = cluster(seed);
  await c.start();
  await c.until(() => healthy(c), 60_000);
  const first = c.leader()!;
  await c.node(first).kill();
  await c.until(() => c.leader() !== null && c.leader() !== first && c.primaries().length === 1, 60_000);
  const second = c.leader();
  await c.node(first).restart();
  await c.until(() => healthy(c), 60_000);
  return {
    first,
    second,
    events: c.events.map((e) => `${e.at} ${e.node} ${e.role}/${e.state}/${e.isLeader}`),
  };
}

describe('createSimulatedCluster', () => {
  it('bootstraps one leader and two streaming replicas', async () => {
    const c = cluster();
    await c.start();
    const ms = await c.until(() => healthy(c), 30_000);
    expect(ms).toBeLessThan(30_000);
    const leader = c.leader()!;
    expect(c.primaries()).toEqual([leader]);
    expect(c.node(leader).status()).toMatchObject({ role: 'master', timeline: 1 });
    expect(await c.write(1000)).toMatchObject({ acknowledged: true, node: leader });
  });

  it('a killed leader is replaced within ttl + a few loops, and rejoins as a replica', async () => {
    const c = cluster();
    await c.start();
    await c.until(() => healthy(c), 30_000);
    const old = c.leader()!;
    expect(await c.write(5000)).toMatchObject({ acknowledged: true });
    await c.advance(1000);
    await c.node(old).kill();
    const took = await c.until(
      () => c.leader() !== null && c.leader() !== old && c.primaries().length === 1,
      60_000,
    );
    expect(took).toBeLessThan((30 + 3 * 10) * 1000);
    const next = c.leader()!;
    expect(c.node(next).status()).toMatchObject({ role: 'master', timeline: 2 });
    expect(c.lostWrites()).toEqual([]);

    await c.node(old).restart();
    await c.until(() => c.streamingReplicas().includes(old), 60_000);
    expect(c.node(old).status()).toMatchObject({
      role: 'replica',
      timeline: 2,
      replication_state: 'streaming',
    });
    expect(c.primaries()).toEqual([next]);
  });

  it('a leader cut off from everybody loses the lock; a replica takes over without a second writable primary', async () => {
    const c = cluster();
    await c.start();
    await c.until(() => healthy(c), 30_000);
    const old = c.leader()!;
    c.isolate(old);
    await c.until(() => c.leader() !== null && c.leader() !== old, 90_000);
    await c.until(() => c.primaries().length === 1, 30_000);
    expect(c.primaries()).toEqual([c.leader()]);
    c.healAll();
    await c.until(() => healthy(c) && c.streamingReplicas().includes(old), 90_000);
  });

  it('a DCS outage demotes the leader before its lease could have expired; the cluster recovers', async () => {
    const c = cluster(5);
    await c.start();
    await c.until(() => healthy(c), 30_000);
    c.dcs.setAvailable(false);
    expect(await c.until(() => c.primaries().length === 0, 30_000)).toBeLessThan(30_000);
    c.dcs.setAvailable(true);
    await c.until(() => healthy(c), 60_000);
  });

  it('synchronous_mode: writes are acknowledged only with a synchronous standby', async () => {
    const c = cluster(3, { synchronous_mode: true, synchronous_mode_strict: true });
    await c.start();
    await c.until(() => healthy(c) && c.synchronousStandbys().length === 1, 60_000);
    const [standby] = c.synchronousStandbys();
    const leader = c.leader()!;
    expect(c.node(leader).postgres.synchronousStandbyNames()).toBe(standby);
    // Every standby is gone: in strict mode commits wait rather than go unprotected.
    const replicas = ['node1', 'node2', 'node3'].filter((n) => n !== leader);
    for (const r of replicas) {
      c.node(r).freeze();
      c.node(r).postgres.crash();
    }
    expect(await c.write(100, 1000)).toMatchObject({ acknowledged: false, state: 'waiting' });
    for (const r of replicas) await c.node(r).restart();
    await c.until(() => c.synchronousStandbys().length === 1, 60_000);
    expect(await c.write(100)).toMatchObject({ acknowledged: true });
    // Only the synchronous standby may take over; it has every acknowledged write.
    const sync = c.synchronousStandbys()[0]!;
    await c.node(leader).kill();
    await c.until(() => c.leader() !== null && c.leader() !== leader && c.primaries().length === 1, 90_000);
    expect(c.leader()).toBe(sync);
    expect(c.lostWrites()).toEqual([]);
  });

  it('synchronous_mode (not strict): when the synchronous standby dies, the other one takes its place', async () => {
    const c = cluster(3, { synchronous_mode: true });
    await c.start();
    await c.until(() => healthy(c) && c.synchronousStandbys().length === 1, 60_000);
    const [first] = c.synchronousStandbys();
    const leader = c.leader()!;
    c.node(first!).freeze();
    c.node(first!).postgres.crash();
    await c.until(() => c.synchronousStandbys().length === 1 && c.synchronousStandbys()[0] !== first, 30_000);
    const second = c.synchronousStandbys()[0]!;
    expect([leader, first]).not.toContain(second);
    expect(c.node(leader).postgres.synchronousStandbyNames()).toBe(second);
    expect(await c.write(100)).toMatchObject({ acknowledged: true });
  });

  it('runs the same way twice from the same seed', async () => {
    const a = await failoverScenario(11);
    const b = await failoverScenario(11);
    expect(b).toEqual(a);
    expect(a.second).not.toBe(a.first);
  });
});
