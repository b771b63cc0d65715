/**
 * Scenarios of what others do behind the agents' back: etcd losing every key, an operator
 * deleting or rewriting /leader, someone promoting a replica by hand. The agents must put the
 * cluster right again without losing its leader's timeline.
 */
import { aReplica, check, healthy, onHealthyCluster, type Scenario } from './harness.ts';

export const etcdLostEveryKey: Scenario = {
  name: 'a running cluster whose etcd lost every key: the agents adopt their data directories and elect the primary',
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const primary = c.primaries()[0]!;
      for (const n of c.nodes) await n.killAgent();
      for (const key of c.store.keys('/service/sim/')) c.store.delete(key);
      for (const n of c.nodes) await n.restart();
      await c.until(() => c.leader() === primary && c.primaries().length === 1, 90_000);
      check(c.store.get('/service/sim/initialize') !== undefined, 'nobody wrote /initialize back', c);
    }),
};

export const leaderKeyDeleted: Scenario = {
  name: 'an operator deletes /leader: the leader puts it back at once and stays primary on its timeline',
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const leader = c.leader()!;
      c.store.delete('/service/sim/leader');
      await c.advance(5000);
      check(c.leader() === leader, `the leader is ${c.leader()}`, c);
      check(
        !c.events.some((e) => e.node === leader && e.role === 'demoted'),
        'the leader demoted for a key it could put back',
        c,
      );
      await c.until(healthy(c, 2), 10_000);
      check(c.node(leader).postgres.wal()?.timeline === 1, 'the timeline moved', c);
    }),
};

export const leaderKeyRewritten: Scenario = {
  name: '/leader rewritten to name a replica: the old leader steps down and the named one takes over',
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const named = aReplica(c).name;
      c.store.put('/service/sim/leader', named);
      await c.until(() => c.primaries().length === 1 && c.primaries()[0] === named, 60_000);
      await c.until(healthy(c, 2), 60_000);
      check(c.leader() === named, `the leader is ${c.leader()}`, c);
    }),
};

export const roguePromotion: Scenario = {
  name: 'someone runs pg_ctl promote on a replica: the agent demotes it and it follows the leader again',
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const leader = c.leader()!;
      const rogue = c.nodes.find((n) => n.name !== leader)!;
      await c.waitFor(rogue.postgres.promote(30));
      check(c.primaries().length === 2, 'the rogue promotion did not happen', c);
      await c.until(() => c.primaries().length === 1 && c.primaries()[0] === leader, 30_000);
      check(c.leader() === leader, `the leader is ${c.leader()}`, c);
    }),
};

export const failoverClearedWhileEtcdFails: Scenario = {
  name: 'a /failover that can never apply, whose clearing etcd fails: the primary stays primary and clears it once etcd answers',
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const leader = c.leader()!;
      const agent = c.node(leader).agent!;
      const clearing = () => agent.actor.getSnapshot().matches({ active: { running: 'clearingFailover' } });
      // Slow enough that the clearing write is still on its way when etcd goes away.
      c.dcs.setLatency(1000);
      c.store.put('/service/sim/failover', JSON.stringify({ leader: 'nobody', member: 'nobody' }));
      await c.until(clearing, 10_000);
      c.dcs.setAvailable(false);
      await c.until(() => !clearing(), 15_000);
      c.dcs.setAvailable(true);
      c.dcs.setLatency(0);
      await c.until(() => c.store.get('/service/sim/failover')?.value === '{}', 30_000);
      check(c.leader() === leader, `the leader is ${c.leader()}`, c);
      check(
        !c.events.some((e) => e.node === leader && e.role === 'demoted'),
        'the leader demoted over a request it could not clear',
        c,
      );
      await c.until(healthy(c, 2), 30_000);
    }),
};
