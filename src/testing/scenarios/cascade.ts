/**
 * Cascading replication (`tags.replicatefrom`): a replica that streams from another replica,
 * which keeps its physical slot as the leader keeps the others' (Patroni: a replica makes slots
 * for the members that replicate from it, the leader not for them).
 */
import { check, healthy, type Scenario, withCluster } from './harness.ts';

export const cascadingReplica: Scenario = {
  name: 'replicatefrom: node3 streams from node2, on a slot node2 keeps for it; with node2 gone, from the leader',
  run: (inspect) =>
    withCluster(
      {
        nodes: 3,
        inspect,
        tags: (i) =>
          i === 2 ? { replicatefrom: 'node2', nofailover: true } : i === 1 ? { nofailover: true } : {},
      },
      async (c) => {
        await c.start();
        await c.until(healthy(c, 2), 60_000);
        const node3 = c.node('node3').postgres;
        check(
          node3.proc?.upstream?.host === c.node('node2').postgres.host,
          `node3 streams from ${node3.proc?.upstream?.host}, not from node2`,
          c,
        );
        check(
          c.node('node2').postgres.slots().includes('node3') &&
            !c.node('node1').postgres.slots().includes('node3'),
          `slots: node1 ${c.node('node1').postgres.slots()}, node2 ${c.node('node2').postgres.slots()}`,
          c,
        );
        // node2's member key outlives it by up to a ttl; then node3 follows the leader, which
        // keeps a slot for it now that it names no member to replicate from.
        await c.node('node2').kill();
        await c.until(
          () =>
            node3.proc?.upstream?.host === c.node('node1').postgres.host &&
            c.streamingReplicas().includes('node3') &&
            c.node('node1').postgres.slots().includes('node3'),
          120_000,
        );
      },
    ),
};
