/**
 * Scenarios of the lock lost in the middle of something: a new leader cut from etcd while it
 * promotes or checkpoints, a stop that outlasts the lease, shutdowns and restarts while etcd is
 * away or slow. Each checks that a node stops accepting writes when its lease runs out, not when
 * its operation ends, since the next leader may be promoted meanwhile.
 */
import type { SimulatedCluster } from '../cluster/index.ts';
import { defaultDurations } from '../simulated-postgres/index.ts';
import {
  aReplica,
  check,
  electionState,
  healthy,
  nodeMessage,
  nodeState,
  onHealthyCluster,
  type Scenario,
} from './harness.ts';

/**
 * The leader is killed; the node that takes over is cut from etcd while in `state`, which the
 * PostgreSQL operation `slow` keeps it in for a minute: it must stop accepting writes when its
 * lease runs out, not once the operation ends (the next leader may be promoted meanwhile).
 */
async function newLeaderCutFromEtcdIn(
  c: SimulatedCluster,
  state: 'promoting' | 'afterPromotion',
  slow: 'promoteMs' | 'checkpointMs',
): Promise<void> {
  for (const n of c.nodes) n.postgres.setDurations({ [slow]: 60_000 });
  const old = c.leader()!;
  await c.node(old).kill();
  const inState = () => c.nodes.find((n) => n.name !== old && nodeState(c, n.name) === state);
  await c.until(() => inState() !== undefined, 60_000);
  const winner = inState()!;
  winner.setDcsReachable(false);
  await c.until(() => !winner.postgres.writable() && nodeState(c, winner.name) !== state, 40_000);
  check(nodeState(c, winner.name) !== 'primary', `${winner.name} stayed a primary without the lock`, c);
  for (const n of c.nodes) n.postgres.setDurations({ [slow]: defaultDurations[slow] });
  winner.setDcsReachable(true);
  c.node(old).start();
  await c.until(healthy(c, 2), 180_000);
}

export const newLeaderCutDuringSlowPromotion: Scenario = {
  name: 'a new leader cut from etcd in the middle of a slow promotion demotes on its deadline, before the next leader is promoted',
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const old = c.leader()!;
      for (const n of c.nodes) n.postgres.setDurations({ promoteMs: 25_000 });
      await c.node(old).kill();
      await c.until(() => c.leader() !== null && c.leader() !== old, 120_000);
      const first = c.node(c.leader()!);
      first.setDcsReachable(false);
      for (const n of c.nodes) if (n !== first) n.postgres.setDurations({ promoteMs: 300 });
      // Its promotion ends a few seconds before its deadline; its CHECKPOINT and /history write
      // then wait on etcd. It must be read-only before anybody else is promoted.
      let both = false;
      const second = () => c.primaries().some((p) => p !== first.name);
      for (let t = 0; t < 180_000 && !second(); t += 100) {
        await c.advance(100);
        if (first.postgres.writable() && second()) both = true;
      }
      check(second(), 'nobody else was promoted', c);
      check(!both, `${first.name} was still writable when another node was promoted`, c);
      check(
        c.events.some((e) => e.node === first.name && e.role === 'demoted'),
        `${first.name} never demoted`,
        c,
      );
    }),
};

export const shutdownOutlastsLock: Scenario = {
  name: 'a shutdown whose stop outlasts the lock (etcd unreachable): the node stops believing it leads and a replica takes over',
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const old = c.node(c.leader()!);
      old.postgres.setDurations({ stopMs: 60_000 });
      old.setDcsReachable(false);
      const stopped = old.shutdown();
      await c.until(() => old.report()?.isLeader === false, 60_000);
      check(old.postgres.running(), 'the stop was expected to be still running', c);
      await c.until(
        () => c.leader() !== null && c.leader() !== old.name && c.primaries().length === 1,
        60_000,
      );
      await c.waitFor(stopped, 60_000);
    }),
};

// Windows of a few milliseconds that random schedules reach only by chance: widened here by a
// slow etcd, so that each is taken on purpose.
export const etcdFailsWhileAcquiring: Scenario = {
  name: 'etcd fails while a replica is taking the lock: it waits and races again, and one replica leads',
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const old = c.leader()!;
      await c.node(old).kill();
      c.dcs.setLatency(3000);
      await c.until(
        () => c.nodes.some((n) => electionState(c, n.name).startsWith('racing.acquiring')),
        90_000,
      );
      c.dcs.setAvailable(false);
      await c.advance(15_000);
      c.dcs.setAvailable(true);
      c.dcs.setLatency(0);
      await c.until(() => c.leader() !== null && c.leader() !== old && c.primaries().length === 1, 90_000);
    }),
};

export const shutDownWhileReclaiming: Scenario = {
  name: 'an agent restarted on the primary is shut down while it reclaims the lock: it stops cleanly',
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const leader = c.leader()!;
      await c.node(leader).killAgent();
      c.dcs.setLatency(3000);
      await c.node(leader).restart();
      await c.until(() => electionState(c, leader) === 'reclaiming', 60_000);
      const stopped = c.node(leader).shutdown();
      c.dcs.setLatency(0);
      await c.waitFor(stopped, 60_000);
      check(!c.node(leader).alive(), 'the agent was expected to have exited', c);
      await c.until(() => c.leader() !== null && c.leader() !== leader && c.primaries().length === 1, 90_000);
    }),
};

export const leaderShutDownWithoutEtcd: Scenario = {
  name: 'a leader shut down while etcd is away stops after loop_wait without waiting for the release',
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const leader = c.leader()!;
      c.dcs.setAvailable(false);
      await c.waitFor(c.node(leader).shutdown(), 60_000);
      check(!c.node(leader).alive(), 'the agent was expected to have exited', c);
      c.dcs.setAvailable(true);
      await c.until(() => c.leader() !== null && c.leader() !== leader && c.primaries().length === 1, 90_000);
    }),
};

export const standingBack: Scenario = {
  name: 'a leader that gives the lock up with nobody to take it stands back a ttl, then takes it again',
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const leader = c.leader()!;
      for (const n of c.nodes) if (n.name !== leader) await n.kill();
      c.node(leader).failNext('start');
      const res = await c.rest(leader, 'POST', '/restart', {});
      check(res.status === 503, `restart answered ${res.status} ${res.body}`, c);
      await c.until(() => electionState(c, leader) === 'standingBack', 30_000);
      await c.until(() => c.leader() === leader && c.primaries().length === 1, 120_000);
    }),
};

export const restartedPrimaryWithoutEtcd: Scenario = {
  name: 'an agent restarted on its primary while etcd is down stops it before its lock can have expired (a failed stop is tried again)',
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const leader = c.leader()!;
      await c.node(leader).killAgent();
      c.dcs.setAvailable(false);
      c.node(leader).failNext('stop');
      await c.node(leader).restart();
      // ttl 30: the first stop (failing) comes before 30 s, the second a lock-time later.
      await c.until(() => !c.node(leader).postgres.running(), 70_000);
      check(c.primaries().length === 0, 'no primary was expected while etcd is down', c);
      c.dcs.setAvailable(true);
      await c.until(() => c.leader() !== null && c.primaries().length === 1, 90_000);
    }),
};

export const fencesByLastConfig: Scenario = {
  name: 'an agent restarted on its primary while etcd is away fences by the retry_timeout of the last /config it saw',
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const patched = await c.rest('node1', 'PATCH', '/config', {
        ttl: 12,
        loop_wait: 2,
        retry_timeout: 3,
      });
      check(patched.status === 200, `PATCH answered ${patched.status} ${patched.body}`, c);
      await c.advance(15_000);
      const leader = c.node(c.leader()!);
      await leader.killAgent();
      leader.setDcsReachable(false);
      leader.start();
      await c.advance(500);
      const settings = leader.agent!.actor.getSnapshot().context.settings;
      check(
        settings.retry_timeout === 3 && settings.ttl === 12,
        `started with ${JSON.stringify(settings)}`,
        c,
      );
      await c.advance(3_000);
      check(!leader.postgres.writable(), 'still writable 3.5 s after a start without etcd', c);
      leader.setDcsReachable(true);
      await c.until(healthy(c, 2), 120_000);
    }),
};

export const cutDuringSlowPromotion: Scenario = {
  name: 'a leader cut from etcd during a slow promotion demotes when its lease runs out, not after the promotion',
  run: (inspect) => onHealthyCluster(inspect, (c) => newLeaderCutFromEtcdIn(c, 'promoting', 'promoteMs')),
};

export const cutDuringPostPromotionCheckpoint: Scenario = {
  name: 'a new leader cut from etcd during its post-promotion CHECKPOINT demotes when its lease runs out',
  run: (inspect) =>
    onHealthyCluster(inspect, (c) => newLeaderCutFromEtcdIn(c, 'afterPromotion', 'checkpointMs')),
};

export const cutDuringSwitchoverCheckpoint: Scenario = {
  name: 'a leader cut from etcd during the CHECKPOINT before a switchover demotes when its lease runs out',
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const old = c.node(c.leader()!);
      const candidate = aReplica(c);
      old.postgres.setDurations({ checkpointMs: 60_000 });
      const answer = old.request('POST', '/switchover', { leader: old.name, candidate: candidate.name });
      await c.until(() => nodeMessage(c, old.name) === 'manual failover: checkpoint before demoting', 20_000);
      old.setDcsReachable(false);
      await c.until(() => !old.postgres.writable(), 40_000);
      check(c.primaries().length <= 1, 'two primaries after the lost lock', c);
      old.postgres.setDurations({ checkpointMs: 0 });
      old.setDcsReachable(true);
      await c.waitFor(answer, 120_000);
      await c.until(healthy(c, 2), 180_000);
    }),
};
