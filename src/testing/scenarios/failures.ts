/**
 * Scenarios of PostgreSQL operations failing under an agent's feet: a promotion, a start, a stop,
 * a checkpoint or a removal that fails in the middle of a failover, a restart, a switchover, a
 * reinitialize or a shutdown. Injected failures in schedules hit whatever runs; these hit each
 * path on purpose and check that the cluster recovers.
 */
import type { SimulatedCluster } from '../cluster/index.ts';
import { aReplica, check, healthy, nodeState, onHealthyCluster, type Scenario } from './harness.ts';

export const promotionFails: Scenario = {
  name: 'the new leader fails to promote: it gives the lock up and another replica takes over',
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const old = c.leader()!;
      const replicas = c.nodes.filter((n) => n.name !== old);
      replicas[0]!.failNext('promote');
      replicas[1]!.failNext('promote');
      await c.node(old).kill();
      await c.until(() => c.leader() !== null && c.leader() !== old && c.primaries().length === 1, 120_000);
    }),
};

export const restartedLeaderFailsToStart: Scenario = {
  name: 'the leader restarted on request fails to start: it releases the lock and a replica takes over',
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const old = c.leader()!;
      c.node(old).failNext('start', 5);
      const res = await c.rest(old, 'POST', '/restart', {});
      check(res.status === 503, `restart answered ${res.status} ${res.body}`, c);
      await c.until(() => c.leader() !== null && c.leader() !== old && c.primaries().length === 1, 90_000);
    }),
};

export const restartStartFails: Scenario = {
  name: 'a restart whose start fails answers 503 and the replica recovers by itself',
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const replica = aReplica(c);
      replica.failNext('start');
      const res = await c.rest(replica.name, 'POST', '/restart', {});
      check(
        res.status === 503 && res.body === 'restart failed',
        `restart answered ${res.status} ${res.body}`,
        c,
      );
      await c.until(healthy(c, 2), 60_000);
    }),
};

export const restartStopFails: Scenario = {
  name: 'a restart whose stop fails answers 503; the replica keeps streaming',
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const replica = aReplica(c);
      replica.failNext('stop');
      const res = await c.rest(replica.name, 'POST', '/restart', {});
      check(res.status === 503, `restart answered ${res.status} ${res.body}`, c);
      await c.until(healthy(c, 2), 60_000);
    }),
};

export const leaderWillNotStart: Scenario = {
  name: "the leader's PostgreSQL crashes and will not start again: the lock goes to a replica",
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const old = c.leader()!;
      c.node(old).crashPostgres();
      c.node(old).failNext('start', 3);
      await c.until(() => c.leader() !== null && c.leader() !== old && c.primaries().length === 1, 90_000);
      await c.until(healthy(c, 2), 90_000);
    }),
};

export const leaderWillNotStartWithoutEtcd: Scenario = {
  name: "the leader's PostgreSQL will not start again while etcd is away: it demotes after loop_wait without the release, which lands later; the cluster elects a leader again",
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const old = c.leader()!;
      c.dcs.setAvailable(false);
      c.node(old).crashPostgres();
      c.node(old).failNext('start', 3);
      await c.until(() => nodeState(c, old) === 'releasing', 60_000);
      // The release cannot reach etcd: after loop_wait (10 s here) the node demotes without it.
      await c.advance(12_000);
      const gaveUp =
        nodeState(c, old) !== 'releasing' && !c.node(old).agent?.actor.getSnapshot().context.isLeader;
      check(gaveUp, `expected ${old} to stop counting itself leader, not ${nodeState(c, old)}`, c);
      c.dcs.setAvailable(true);
      await c.until(() => c.leader() !== null && c.primaries().length === 1, 90_000);
      await c.until(healthy(c, 2), 90_000);
    }),
};

export const switchoverStopFails: Scenario = {
  name: 'a switchover whose fast stop fails: the leader demotes anyway and the candidate takes over',
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const old = c.leader()!;
      const candidate = c.nodes.find((n) => n.name !== old)!.name;
      c.node(old).failNext('stop');
      await c.rest(old, 'POST', '/switchover', { leader: old, candidate });
      await c.until(() => c.leader() !== null && c.leader() !== old && c.primaries().length === 1, 90_000);
      check(!c.node(old).postgres.writable(), 'the old leader was expected read-only', c);
    }),
};

export const switchoverCheckpointFails: Scenario = {
  name: 'a switchover whose checkpoint fails still hands over',
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const old = c.leader()!;
      c.node(old).failNext('checkpoint');
      const res = await c.rest(old, 'POST', '/switchover', { leader: old });
      check(res.status === 200, `switchover answered ${res.status} ${res.body}`, c);
      check(c.leader() !== old, 'the leader did not change', c);
    }),
};

export const reinitializeStopFails: Scenario = {
  name: 'a reinitialize whose stop fails still rebuilds the replica',
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const replica = aReplica(c);
      replica.failNext('stop');
      const res = await c.rest(replica.name, 'POST', '/reinitialize', {});
      check(res.status === 200, `reinitialize answered ${res.status} ${res.body}`, c);
      await c.until(healthy(c, 2), 90_000);
    }),
};

export const forcedReinitializeRemovalFails: Scenario = {
  name: 'a forced reinitialize of a crashed replica, and a removal that fails, end streaming',
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const replica = aReplica(c);
      replica.failNext('start', 2);
      replica.crashPostgres();
      await c.advance(1500);
      replica.failNext('remove');
      const res = await c.rest(replica.name, 'POST', '/reinitialize', { force: true });
      check(res.status === 200, `reinitialize answered ${res.status} ${res.body}`, c);
      await c.until(healthy(c, 2), 120_000);
    }),
};

export const shutdownStopFails: Scenario = {
  name: 'a shutdown whose fast stop fails stops PostgreSQL immediately, then releases the lock (never while it accepts writes)',
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const old = c.leader()!;
      c.node(old).failNext('stop');
      const shutdown = c.node(old).shutdown();
      // A second signal while the shutdown runs: it must not cut it short.
      c.node(old).agent!.actor.send({ type: 'STOP' });
      await c.waitFor(shutdown, 60_000);
      check(
        !c.node(old).postgres.writable(),
        `${old}'s PostgreSQL still accepts writes after its shutdown`,
        c,
      );
      noWritableRelease(c);
      await c.until(() => c.leader() !== null && c.leader() !== old, 60_000);
    }),
};

export const shutdownCannotStop: Scenario = {
  name: 'a shutdown that cannot stop PostgreSQL at all leaves the lock to expire, as Patroni does, rather than hand it over',
  run: (inspect) =>
    onHealthyCluster(
      inspect,
      async (c) => {
        const old = c.leader()!;
        c.node(old).failNext('stop', 2);
        const left = c.now();
        await c.waitFor(c.node(old).shutdown(), 60_000);
        noWritableRelease(c);
        await c.until(() => c.leader() !== null && c.leader() !== old, 120_000);
        // Not handed over: the lease had to run out first.
        const ttlMs = Number(c.node(old).config.bootstrap.dcs['ttl']) * 1000;
        check(c.now() - left >= ttlMs - 2 * 1000, `a new leader ${c.now() - left} ms after the shutdown`, c);
      },
      { fastFailover: false },
    ),
};

export const shutdownCannotStopFastFailover: Scenario = {
  name: 'a shutdown that cannot stop PostgreSQL, with fast failover: no hand-over; the term is given up, the server left behind fenced, then a new primary',
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const old = c.leader()!;
      c.node(old).failNext('stop', 2);
      await c.waitFor(c.node(old).shutdown(), 60_000);
      noWritableRelease(c);
      // The agent is gone and cannot stop its server: the members prove its term given up, and the
      // new leader makes the server read-only before it promotes its own.
      await c.until(() => c.primaries().some((n) => n !== old), 30_000);
      check(c.node(old).postgres.data?.fenced === true, `${old}'s server was not fenced`, c);
      check(c.primaries().length === 1, `writable: ${c.primaries().join(', ')}`, c);
    }),
};

function noWritableRelease(c: SimulatedCluster): void {
  const r = c.writableReleases[0];
  check(!r, `${r?.node} released the lock while its PostgreSQL accepted writes`, c);
}
