/**
 * A standby cluster (standby_cluster in bootstrap.dcs) in the simulator: a remote primary outside
 * the cluster, which the first member copies and follows as the standby leader while the others
 * stream from it. No member may accept writes while the section is there — not at the
 * bootstrap, not when the standby leader dies and another takes the lock; removing it from
 * /config promotes the standby leader, and only then is anyone writable.
 */
import type { SimulatedCluster } from '../cluster/index.ts';
import { check, type Scenario, withCluster } from './harness.ts';

/** `members` running, all standbys: the lock holder streaming from the remote, the others from it. */
function standbyHealthy(c: SimulatedCluster, members: number): boolean {
  const leader = c.leader();
  if (leader === null) return false;
  const lead = c.node(leader).postgres;
  const running = c.nodes.filter((n) => n.postgres.proc);
  return (
    running.length === members &&
    lead.proc?.upstream?.host === 'remote' &&
    c.streamingReplicas().length === members &&
    running.every((n) => n === c.node(leader) || n.postgres.proc?.upstream?.host === lead.host)
  );
}

export const standbyClusterLifecycle: Scenario = {
  name: 'standby_cluster: the standby leader follows a remote primary, nobody writable; killed, another leads as standby; the section removed, promoted',
  run: (inspect) =>
    withCluster(
      {
        nodes: 3,
        inspect,
        dcs: { ttl: 30, loop_wait: 10, retry_timeout: 10, standby_cluster: { host: 'remote', port: 5432 } },
      },
      async (c) => {
        const remote = c.world.add('remote', 'remote', 5432);
        await c.waitFor(
          (async () => {
            await remote.initdb();
            await remote.start('primary', null, 60);
          })(),
          60_000,
        );
        await c.start();
        const writable = new Set<string>();
        const watching = (done: () => boolean) => () => {
          for (const p of c.primaries()) writable.add(p);
          return done();
        };
        await c.until(
          watching(() => standbyHealthy(c, 3)),
          180_000,
        );
        check(writable.size === 0, `writable in a standby cluster: ${[...writable]}`, c);
        check(
          c.nodes.every((n) => n.postgres.data?.sysid === remote.data?.sysid),
          'a member is not a copy of the remote primary',
          c,
        );

        const first = c.leader()!;
        await c.node(first).kill();
        await c.until(
          watching(() => c.leader() !== null && c.leader() !== first && standbyHealthy(c, 2)),
          180_000,
        );
        check(writable.size === 0, `writable after the standby leader died: ${[...writable]}`, c);

        const second = c.leader()!;
        const r = await c.rest(second, 'PATCH', '/config', { standby_cluster: null });
        check(r.status === 200, `PATCH answered ${r.status} ${r.body}`, c);
        await c.until(() => c.primaries().length === 1, 120_000);
        check(c.primaries()[0] === second, `${c.primaries()} promoted, not the standby leader ${second}`, c);
        check(remote.writable(), 'the remote primary stopped accepting writes', c);
      },
    ),
};
