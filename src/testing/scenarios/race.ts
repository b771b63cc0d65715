/**
 * Scenarios of the leader race itself: what the racers learn of each other (over gossip, or
 * GET /patroni when gossip cannot answer) must make the replica with the most WAL win.
 */
import { passedOver } from '../invariants/race.ts';
import { check, healthy, onHealthyCluster, type Scenario } from './harness.ts';

/** No racer judged itself the healthiest while a member it could reach had more WAL. */
function noneBetterPassedOver(c: Parameters<typeof healthy>[0]): void {
  for (const w of c.raceWitnesses) {
    const better = passedOver(w);
    check(better === null, `${w.node} judged itself the healthiest while ${better?.name} was ahead`, c);
  }
}

export const mostAdvancedReplicaWins: Scenario = {
  name: 'the leader dies while one replica lags behind a cut: the replica with the most WAL wins the race',
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const leader = c.leader()!;
      const [ahead, behind] = c.nodes.filter((n) => n.name !== leader);
      c.partition(leader, behind!.name);
      for (let i = 0; i < 5; i++) {
        const w = await c.write(4096);
        check(w.acknowledged, `write ${i} was ${w.state}`, c);
      }
      await c.advance(1000);
      const lsn = (n: typeof ahead) => n!.postgres.wal()!.lsn;
      check(lsn(ahead) > lsn(behind), `${ahead!.name} is not ahead of ${behind!.name}`, c);
      await c.node(leader).kill();
      await c.until(() => c.leader() !== null && c.leader() !== leader && c.primaries().length === 1, 90_000);
      check(c.leader() === ahead!.name, `${c.leader()} won, not ${ahead!.name} with the most WAL`, c);
      noneBetterPassedOver(c);
      c.heal(leader, behind!.name);
      await c.node(leader).restart();
      await c.until(healthy(c, 2), 90_000);
    }),
};
