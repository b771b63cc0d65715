/**
 * Scenarios of maintenance mode (pause): the operator runs PostgreSQL and the agents only watch,
 * so a primary stopped by hand stays stopped and a shut-down agent leaves its primary and lock.
 */
import { check, healthy, onHealthyCluster, type Scenario, setPause } from './harness.ts';

export const stoppedByHandWhilePaused: Scenario = {
  name: 'paused, PostgreSQL stopped by hand: the lock goes, nothing restarts it; started by hand, the node carries on',
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      await setPause(c, true);
      await c.advance(2000);
      const leader = c.node(c.leader()!);
      await c.waitFor(leader.postgres.stop('fast', 30));
      await c.until(() => leader.report()?.isLeader === false, 60_000);
      await c.advance(20_000);
      check(!leader.postgres.running(), 'PostgreSQL was started while paused', c);
      await c.waitFor(leader.postgres.start('primary', null, 30));
      await c.advance(5000);
      await setPause(c, false);
      await c.until(healthy(c, 2), 120_000);
    }),
};

export const shutdownWhilePaused: Scenario = {
  name: 'an agent shut down in maintenance mode leaves its primary running and the lock held',
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      await setPause(c, true);
      await c.advance(2000);
      const leader = c.node(c.leader()!);
      await c.waitFor(leader.shutdown(), 30_000);
      await c.advance(5000);
      check(leader.postgres.running(), 'the primary was stopped with its agent while paused', c);
      check(c.leader() === leader.name, `the lock went to ${c.leader()} while paused`, c);
      leader.start();
      await c.advance(5000);
      await setPause(c, false);
      await c.until(healthy(c, 2), 120_000);
      check(c.leader() === leader.name, `leadership moved to ${c.leader()}`, c);
    }),
};
