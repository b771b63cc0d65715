/**
 * The simulator's "never give the lock up while PostgreSQL accepts writes" invariant, shown able
 * to fail: the leader's election told to release while its primary runs (a planted RELEASE, as
 * the shutdown whose stop failed did) breaks it; a switchover, which stops the primary first,
 * and a shutdown do not.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createSimulatedCluster, type SimulatedCluster } from '../../src/testing/index.ts';
import { noReleaseWhileWritable, tickInvariants } from '../../src/testing/invariants/index.ts';

const clusters: SimulatedCluster[] = [];
afterEach(async () => {
  for (const c of clusters.splice(0)) await c.stop();
});

async function healthyCluster(): Promise<SimulatedCluster> {
  const c = createSimulatedCluster({ nodes: 3, seed: 7, dcs: { ttl: 30, loop_wait: 10, retry_timeout: 10 } });
  clusters.push(c);
  await c.start();
  await c.until(() => c.primaries().length === 1 && c.streamingReplicas().length === 2, 30_000);
  return c;
}

const check = (c: SimulatedCluster) =>
  noReleaseWhileWritable.check({ cluster: c, step: 0, synchronousMode: false });

describe('invariant no-release-while-writable', () => {
  it('is checked on every tick of seeded runs', () => {
    expect(tickInvariants).toContain(noReleaseWhileWritable);
  });

  it('fails when the leader gives the lock up while its primary still accepts writes', async () => {
    const c = await healthyCluster();
    const leader = c.node(c.leader()!);
    const election = leader.agent!.actor.getSnapshot().children['election']!;
    election.send({ type: 'RELEASE', lastLsn: null });
    await c.until(() => c.writableReleases.length === 1, 10_000);
    expect(check(c)).toMatch(
      new RegExp(
        `^${leader.name} released the leader lock at [\\d.]+ s while its PostgreSQL still accepted writes$`,
      ),
    );
  });

  it('holds through a switchover and a clean shutdown of the leader', async () => {
    const c = await healthyCluster();
    const old = c.leader()!;
    const candidate = c.streamingReplicas()[0]!;
    const res = await c.rest(old, 'POST', '/switchover', { leader: old, candidate });
    expect(res.status).toBe(200);
    // Once the others stream from it: stopped within the second a re-pointed standby takes to
    // stream (repointMs), its timeline would exist on no one else, and check_timeline would
    // rightly keep the others from taking over until it came back.
    await c.until(() => c.streamingReplicas().length === 2, 30_000);
    await c.waitFor(c.node(candidate).shutdown(), 60_000);
    await c.until(() => c.leader() !== null && c.leader() !== candidate, 60_000);
    expect(check(c)).toBeNull();
  });
});
