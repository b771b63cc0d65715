/**
 * Scenarios of a data directory that is not the cluster's: one of another cluster, and
 * /initialize changed under running agents (paused or not). The agents stop, give the lock up
 * and exit without touching any data.
 */
import { aReplica, check, nodeState, onHealthyCluster, type Scenario } from './harness.ts';

export const foreignDataDirectory: Scenario = {
  name: 'a data directory of another cluster: the agent refuses it and exits',
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const stray = aReplica(c);
      await stray.kill();
      await c.waitFor(stray.postgres.removeDataDir());
      await c.waitFor(stray.postgres.initdb());
      await stray.restart();
      await c.until(() => !stray.alive(), 30_000);
      const fatal = stray.agent?.actor.getSnapshot().context.fatal ?? '';
      check(fatal.includes('belongs to another cluster'), `the agent exited saying: ${fatal}`, c);
    }),
};

export const initializeKeyChanged: Scenario = {
  name: 'the data directory stops matching /initialize: every agent stops postgres, gives the lock up, touches no data and exits',
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const promotions = c.world.promotions.length;
      c.store.put('/service/sim/initialize', '6999999999999999999');
      await c.until(() => c.nodes.every((n) => !n.alive()), 60_000);
      check(c.primaries().length === 0 && c.nodes.every((n) => !n.postgres.running()), 'postgres runs', c);
      check(c.leader() === null, 'the lock was expected to be given up', c);
      check(
        c.nodes.every((n) => n.postgres.wal() !== null),
        'a data directory is gone',
        c,
      );
      check(c.world.promotions.length === promotions, 'a promotion after the mismatch', c);
      for (const n of c.nodes) {
        const fatal = n.agent?.actor.getSnapshot().context.fatal ?? '';
        const expected = `system ID mismatch, node ${n.name} belongs to a different cluster: 6999999999999999999 != `;
        check(fatal.startsWith(expected), `${n.name} exited saying: ${fatal}`, c);
      }
    }),
};

export const initializeKeyChangedWhilePaused: Scenario = {
  name: 'paused, /initialize changes: the leader gives the lock up and nothing stops; set back, all carry on; changed again and resumed, they exit',
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const key = '/service/sim/initialize';
      const sysid = c.store.get(key)!.value;
      const leader = c.leader()!;
      const paused = await c.rest(leader, 'PATCH', '/config', { pause: true });
      check(paused.status === 200, `pause answered ${paused.status}`, c);
      await c.until(() => c.nodes.every((n) => n.report()?.paused === true), 30_000);
      c.store.put(key, '6999999999999999999');
      await c.until(() => c.nodes.every((n) => nodeState(c, n.name) === 'foreignWhilePaused'), 30_000);
      await c.until(() => c.leader() === null, 30_000);
      check(
        c.nodes.every((n) => n.alive() && n.postgres.running()),
        'paused: nothing was to stop',
        c,
      );
      c.store.put(key, sysid);
      await c.until(() => c.nodes.every((n) => nodeState(c, n.name) !== 'foreignWhilePaused'), 30_000);
      c.store.put(key, '6999999999999999999');
      await c.until(() => c.nodes.every((n) => nodeState(c, n.name) === 'foreignWhilePaused'), 30_000);
      const resumed = await c.rest(leader, 'PATCH', '/config', { pause: false });
      check(resumed.status === 200, `resume answered ${resumed.status}`, c);
      await c.until(() => c.nodes.every((n) => !n.alive()), 60_000);
      check(
        c.nodes.every((n) => n.postgres.wal() !== null),
        'a data directory is gone',
        c,
      );
    }),
};
