/**
 * Scenarios of a node's first steps, which schedules never reach since they start on a running
 * cluster: a bootstrap that fails or loses etcd half-way, a nofailover replica with nobody to
 * follow, an agent stopped before etcd ever answered, a first clone that fails.
 */
import { check, healthy, type Scenario, withCluster } from './harness.ts';

export const failedInitdb: Scenario = {
  name: 'a failed initdb gives /initialize back and the agent exits; restarted, the cluster bootstraps',
  run: (inspect) =>
    withCluster({ nodes: 1, inspect }, async (c) => {
      const n = c.node('node1');
      n.failNext('initdb');
      await c.start();
      await c.until(() => !n.alive(), 30_000);
      check(c.store.get('/service/sim/initialize') === undefined, '/initialize was not given back', c);
      await n.restart();
      await c.until(healthy(c, 0), 30_000);
    }),
};

export const etcdGoneDuringBootstrap: Scenario = {
  name: 'etcd goes away during the bootstrap: the agent stops its new primary and exits; restarted, it adopts its data directory',
  run: (inspect) =>
    withCluster({ nodes: 1, inspect, postgres: { durations: { initdbMs: 3000 } } }, async (c) => {
      const n = c.node('node1');
      await c.start();
      // etcd goes away while initdb runs: publishing the new cluster fails, and so does giving
      // /initialize back; the agent exits with its data directory made.
      await c.advance(1000);
      c.dcs.setAvailable(false);
      await c.until(() => !n.alive(), 60_000);
      // No primary left behind: nobody holds a lock for it, and another node may bootstrap.
      check(!n.postgres.writable(), 'the failed bootstrap left its new primary running', c);
      c.dcs.setAvailable(true);
      await n.restart();
      await c.until(healthy(c, 0), 60_000);
      const sysid = n.report()?.systemIdentifier;
      check(
        c.store.get('/service/sim/initialize')?.value === sysid,
        '/initialize is not the adopted sysid',
        c,
      );
    }),
};

export const nofailoverAlone: Scenario = {
  name: 'a replica tagged nofailover started alone waits for a leader, looks again every loop_wait, and clones once one is there',
  run: (inspect) =>
    withCluster({ nodes: 2, inspect, tags: (i) => (i === 1 ? { nofailover: true } : {}) }, async (c) => {
      c.node('node2').start();
      await c.advance(25_000);
      check(c.leader() === null && !c.node('node2').postgres.running(), 'node2 did something alone', c);
      c.node('node1').start();
      await c.until(healthy(c, 1), 60_000);
      check(c.leader() === 'node1', `the leader is ${c.leader()}`, c);
    }),
};

export const stoppedWhileWaitingForEtcd: Scenario = {
  name: 'an agent stopped while it still waits for etcd stops at once',
  run: (inspect) =>
    withCluster({ nodes: 1, inspect }, async (c) => {
      c.dcs.setAvailable(false);
      await c.start();
      await c.advance(3000);
      await c.waitFor(c.node('node1').shutdown(), 30_000);
      check(!c.node('node1').alive(), 'the agent is still running', c);
      check(!c.node('node1').postgres.running(), 'PostgreSQL was started', c);
    }),
};

export const firstCloneFails: Scenario = {
  name: "a replica's first clone fails: the half-made data directory is removed and the clone tried again",
  run: (inspect) =>
    withCluster({ nodes: 3, inspect }, async (c) => {
      for (const n of c.nodes) n.failNext('clone');
      await c.start();
      await c.until(healthy(c, 2), 60_000);
      check(
        c.nodes.some((n) => n.report()?.role === 'replica'),
        'no replica after the failed clones',
        c,
      );
    }),
};
