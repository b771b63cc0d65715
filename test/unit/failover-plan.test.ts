/**
 * GET /failover-plan: the election's rule applied for every member to the cluster without its
 * leader — as a pure function, and against what the simulated cluster then really does when the
 * leader dies.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { PeerStatus } from '../../src/cluster/eligibility.ts';
import { failoverPlan } from '../../src/cluster/failover-plan.ts';
import { type ClusterView, emptyClusterView, type Member } from '../../src/cluster/view.ts';
import { createSimulatedCluster, type SimulatedCluster } from '../../src/testing/index.ts';

const settings = { maximum_lag_on_failover: 1_000_000, check_timeline: true, synchronous_mode: false };

const member = (name: string, tags: Record<string, unknown> = {}): Member => ({
  name,
  index: '1',
  session: null,
  data: {
    conn_url: `postgres://${name}:5432/postgres`,
    api_url: `http://${name}:8008/patroni`,
    tags,
  } as Member['data'],
});

const status = (name: string, over: Partial<PeerStatus> = {}): PeerStatus => ({
  name,
  reachable: true,
  inRecovery: true,
  walPosition: 10_000_000,
  timeline: 2,
  nofailover: false,
  watchdogFailed: false,
  ...over,
});

const view = (over: Partial<ClusterView> = {}): ClusterView => ({
  ...emptyClusterView,
  leader: { name: 'a', index: '1', session: '1' } as ClusterView['leader'],
  members: [member('a'), member('b'), member('c'), member('d', { nofailover: true })],
  status: { optime: 10_000_500 } as ClusterView['status'],
  ...over,
});

const leaderAt = (pos: number) => status('a', { inRecovery: false, walPosition: pos });

describe('failoverPlan', () => {
  it('names the replica that would win, why the others would not, and the data it could lack', () => {
    const plan = failoverPlan(
      view(),
      [
        leaderAt(10_000_600),
        status('b', { walPosition: 10_000_000 }),
        status('c', { walPosition: 9_999_000 }),
        status('d', { nofailover: true }),
      ],
      settings,
    );
    expect(plan.leader).toBe('a');
    expect(plan.candidates).toEqual(['b']);
    expect(plan.maxDataLossBytes).toBe(600);
    const why = Object.fromEntries(plan.members.map((m) => [m.name, [m.takesOver, m.reason]]));
    expect(why).toEqual({
      a: [false, 'the leader that died'],
      b: [true, 'no reachable member is ahead of me'],
      c: [false, 'b is ahead (10000000 > 9999000)'],
      d: [false, 'tagged nofailover'],
    });
  });

  it('a member that does not answer is not a candidate; two replicas level with each other both are', () => {
    const plan = failoverPlan(view(), [leaderAt(10_000_000), status('b'), status('c')], settings);
    expect(plan.candidates).toEqual(['b', 'c']);
    expect(plan.maxDataLossBytes).toBe(0);
    expect(plan.members.find((m) => m.name === 'd')).toMatchObject({
      takesOver: false,
      reason: 'not reachable',
    });
  });

  it('too far behind the last leader position: maximum_lag_on_failover says why', () => {
    const plan = failoverPlan(
      view({ members: [member('a'), member('b')] }),
      [status('b', { walPosition: 5_000_000 })],
      settings,
    );
    expect(plan.candidates).toEqual([]);
    expect(plan.maxDataLossBytes).toBeNull();
    expect(plan.members[1]!.reason).toMatch(/exceeds maximum_lag_on_failover 1000000/);
    expect(plan.leaderPosition).toBe(10_000_500); // the leader did not answer: /status
  });

  it('synchronous_mode: only a /sync standby, and no acknowledged commit lost', () => {
    const plan = failoverPlan(
      view({ sync: { leader: 'a', sync_standby: ['c'], index: '1' } as ClusterView['sync'] }),
      [
        leaderAt(10_000_600),
        status('b', { walPosition: 10_000_600 }),
        status('c', { walPosition: 10_000_000 }),
      ],
      { ...settings, synchronous_mode: true },
    );
    expect(plan.candidates).toEqual(['c']);
    expect(plan.maxDataLossBytes).toBe(0);
    expect(plan.members.find((m) => m.name === 'b')!.reason).toBe('not a synchronous standby');
  });

  it('paused: nobody takes over by themselves', () => {
    const plan = failoverPlan(view(), [leaderAt(10_000_000), status('b'), status('c')], {
      ...settings,
      paused: true,
    });
    expect(plan.candidates).toEqual([]);
    expect(plan.members.find((m) => m.name === 'b')!.reason).toBe('the cluster is paused');
  });
});

const open: SimulatedCluster[] = [];
afterEach(async () => {
  for (const c of open.splice(0)) await c.stop();
});

interface PlanJson {
  leader: string;
  candidates: string[];
  members: Array<{ name: string; takes_over: boolean; reason: string }>;
}

/**
 * Bootstrap, ask a replica for the plan, kill the leader: the one that takes over must be a
 * candidate of the plan (no write in between, so nothing the plan saw has moved).
 */
async function planThenKill(opts: { seed: number; sync?: boolean; nofailover?: number[] }) {
  const c = createSimulatedCluster({
    nodes: 3,
    seed: opts.seed,
    dcs: { ttl: 30, loop_wait: 10, retry_timeout: 10, synchronous_mode: opts.sync === true },
    tags: (i) => (opts.nofailover?.includes(i) ? { nofailover: true } : {}),
  });
  open.push(c);
  await c.start();
  await c.until(() => c.primaries().length === 1 && c.streamingReplicas().length === 2, 60_000);
  if (opts.sync) await c.until(() => c.synchronousStandbys().length === 1, 60_000);
  await c.advance(15_000); // settled: /status and every member key current
  const leader = c.leader()!;
  const asker = c.nodes.find((n) => n.name !== leader)!;
  const res = await asker.request('GET', '/failover-plan');
  expect(res.status).toBe(200);
  const plan = res.json as PlanJson;
  expect(plan.leader).toBe(leader);
  await c.node(leader).kill();
  await c.until(() => c.leader() !== null && c.leader() !== leader, 120_000);
  return { plan, winner: c.leader() };
}

describe('the plan agrees with the failover that follows (simulated)', () => {
  for (const seed of [1, 2, 3, 4]) {
    it(`asynchronous, seed ${seed}: the new leader is one of the plan's candidates`, async () => {
      const { plan, winner } = await planThenKill({ seed });
      expect(plan.candidates.length).toBeGreaterThan(0);
      expect(plan.candidates).toContain(winner);
    });
  }

  it('one replica tagged nofailover: the plan names the other, and it wins', async () => {
    const { plan, winner } = await planThenKill({ seed: 5, nofailover: [2] });
    expect(plan.members.find((m) => m.name === 'node3')).toMatchObject({
      takes_over: false,
      reason: 'tagged nofailover',
    });
    expect(plan.candidates).toEqual([winner]);
  });

  for (const seed of [6, 7]) {
    it(`synchronous_mode, seed ${seed}: the plan names the synchronous standby alone, and it wins`, async () => {
      const { plan, winner } = await planThenKill({ seed, sync: true });
      expect(plan.candidates).toEqual([winner]);
      const other = plan.members.find((m) => m.name !== winner && m.name !== plan.leader)!;
      expect(other.reason).toBe('not a synchronous standby');
    });
  }
});

describe('FailoverPlans', () => {
  it('one round of probes answers every request for a second, so no caller can make a node probe faster', async () => {
    const { FailoverPlans } = await import('../../src/runtime/failover-plan.ts');
    let probes = 0;
    let now = 0;
    const v = view({ members: [member('a'), member('b')] });
    const plans = new FailoverPlans(
      {
        view: () => v,
        settings: () => settings as never,
        config: () => ({ name: 'a' }) as never,
        report: () => ({ pg: null, tags: {}, state: 'running', role: 'master', view: null }) as never,
        probeMember: async (m) => {
          probes++;
          return status(m.name);
        },
      },
      () => now,
    );
    const [p1, p2] = await Promise.all([plans.get(), plans.get()]);
    expect(p1).toBe(p2);
    now = 999;
    await plans.get();
    expect(probes).toBe(1);
    now = 1000;
    await plans.get();
    expect(probes).toBe(2);
  });
});
