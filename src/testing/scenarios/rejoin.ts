/**
 * Scenarios of an old primary whose WAL went past the fork point (a last write reached no
 * replica) rejoining: pg_rewind breaking off or finding rewind impossible, use_pg_rewind off.
 * Its data directory goes only when the operator configured it (remove_data_directory_on_*) or
 * asks (POST /reinitialize); every scenario also checks no-unasked-data-removal when it ends.
 */
import type { SimulatedCluster, SimulatedClusterOptions } from '../cluster/index.ts';
import {
  check,
  healthy,
  nodeMessage,
  nodeState,
  onHealthyCluster,
  reportsStreaming,
  type Scenario,
} from './harness.ts';

const rewindOff: SimulatedClusterOptions = {
  dcs: {
    ttl: 30,
    loop_wait: 10,
    retry_timeout: 10,
    postgresql: { use_pg_rewind: false, use_slots: true, parameters: {} },
  },
};

/**
 * The leader, cut from its replicas, commits what nobody receives and dies; another node takes
 * over. Answers the old leader, dead, its WAL past the fork point.
 */
async function divergedOldPrimary(c: SimulatedCluster): Promise<string> {
  const old = c.leader()!;
  for (const n of c.nodes) if (n.name !== old) c.partition(old, n.name);
  await c.write(100, 0);
  await c.node(old).kill();
  c.healAll();
  await c.until(() => c.leader() !== null && c.leader() !== old && c.primaries().length === 1, 60_000);
  return old;
}

export const rewindOutcomes: Scenario[] = [
  {
    name: 'pg_rewind breaks off: the data directory is kept, the rewind tried again, and the old primary rejoins',
    opts: {},
    rewind: 'breaks off' as const,
    recloned: false,
  },
  {
    name: 'pg_rewind breaks off with remove_data_directory_on_rewind_failure: the data directory is still kept (nothing is known about it) and the rewind tried again',
    opts: { localPostgresql: { remove_data_directory_on_rewind_failure: true } },
    rewind: 'breaks off' as const,
    recloned: false,
  },
  {
    name: 'pg_rewind finds rewind impossible with remove_data_directory_on_rewind_failure: the old primary is cloned again',
    opts: { localPostgresql: { remove_data_directory_on_rewind_failure: true } },
    rewind: 'refused' as const,
    recloned: true,
  },
  {
    name: 'use_pg_rewind off with remove_data_directory_on_diverged_timelines: the old primary, seen to have diverged, is cloned again',
    opts: { ...rewindOff, localPostgresql: { remove_data_directory_on_diverged_timelines: true } },
    rewind: 'ok' as const,
    recloned: true,
  },
].map(
  (v): Scenario => ({
    name: v.name,
    run: (inspect) =>
      onHealthyCluster(
        inspect,
        async (c) => {
          const old = await divergedOldPrimary(c);
          if (v.rewind === 'breaks off') c.node(old).failNext('rewind');
          if (v.rewind === 'refused') c.node(old).postgres.refuseRewind();
          const restarted = c.now();
          await c.node(old).restart();
          await c.until(healthy(c, 2), 90_000);
          const recloned = c.events.some(
            (e) => e.node === old && e.at >= restarted && e.state === 'creating replica',
          );
          check(recloned === v.recloned, `cloned again: ${recloned}`, c);
        },
        v.opts,
      ),
  }),
);

export const rewindImpossibleKeepsData: Scenario = {
  name: 'pg_rewind finds rewind impossible, nothing configured: the data directory is kept and postgres stays stopped until POST /reinitialize',
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const old = await divergedOldPrimary(c);
      c.node(old).postgres.refuseRewind();
      await c.node(old).restart();
      await c.until(() => nodeState(c, old) === 'rewindFailed', 60_000);
      await c.advance(30_000);
      const n = c.node(old);
      check(nodeState(c, old) === 'rewindFailed', 'the old primary was expected to wait', c);
      check(n.postgres.wal() !== null && !n.postgres.running(), 'its data kept, postgres stopped', c);
      check(/data directory is kept/.test(nodeMessage(c, old)), `message: ${nodeMessage(c, old)}`, c);
      check(c.dataRemovals.length === 0, 'a data directory was removed', c);
      const res = await c.rest(old, 'POST', '/reinitialize', {});
      check(res.status === 200, `reinitialize answered ${res.status} ${res.body}`, c);
      await c.until(healthy(c, 2), 90_000);
      check(c.dataRemovals.length === 1, `${c.dataRemovals.length} removals`, c);
    }),
};

export const rewindRefusedTwice: Scenario = {
  name: 'pg_rewind refused twice, nothing configured: tried again when another node leads, then after REWIND_RETRY_LOOPS loops, and the old primary rejoins',
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const old = await divergedOldPrimary(c);
      c.node(old).postgres.refuseRewind(2);
      await c.node(old).restart();
      await c.until(() => nodeState(c, old) === 'rewindFailed', 60_000);
      const leader = c.leader()!;
      const candidate = c.nodes.find((n) => n.name !== leader && n.name !== old)!.name;
      // Re-pointed at the new leader a moment ago, it streams a second later (repointMs); asked
      // before, the switchover is refused (a failover naming a replica between upstreams…).
      await c.until(() => reportsStreaming(c, candidate), 30_000);
      const res = await c.rest(leader, 'POST', '/switchover', { leader, candidate });
      check(res.status === 200, `switchover answered ${res.status} ${res.body}`, c);
      // The new leader is another chance: pg_rewind runs again at once (refused once more).
      await c.until(() => nodeState(c, old) === 'rewinding', 30_000);
      await c.until(() => nodeState(c, old) === 'rewindFailed', 30_000);
      // Then only the retry timer (10 × loop_wait) brings it back, and this time it works.
      await c.until(healthy(c, 2), 150_000);
      check(c.dataRemovals.length === 0, 'a data directory was removed', c);
    }),
};

export const reinitializeQueuedBehindRewind: Scenario = {
  name: 'a forced reinitialize queued behind a pg_rewind that finds rewind impossible is served at once',
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const old = await divergedOldPrimary(c);
      c.node(old).postgres.refuseRewind();
      c.node(old).postgres.setDurations({ rewindMs: 5_000 });
      await c.node(old).restart();
      await c.until(() => nodeState(c, old) === 'rewinding', 60_000);
      const res = await c.rest(old, 'POST', '/reinitialize', { force: true });
      check(res.status === 200, `reinitialize answered ${res.status} ${res.body}`, c);
      await c.until(healthy(c, 2), 90_000);
      check(c.dataRemovals.length === 1, `${c.dataRemovals.length} removals`, c);
    }),
};

export const rewindOffKeepsData: Scenario = {
  name: 'use_pg_rewind off, nothing configured: the old primary keeps its data and runs as a replica that cannot follow, says so, until POST /reinitialize',
  run: (inspect) =>
    onHealthyCluster(
      inspect,
      async (c) => {
        const old = await divergedOldPrimary(c);
        await c.node(old).restart();
        await c.until(
          () => nodeState(c, old) === 'replica' && /timeline diverged/.test(nodeMessage(c, old)),
          60_000,
        );
        await c.advance(30_000);
        check(!c.streamingReplicas().includes(old), 'the diverged old primary was not expected to stream', c);
        check(c.node(old).postgres.running(), 'it was expected to run (as Patroni leaves it)', c);
        check(c.dataRemovals.length === 0, 'a data directory was removed', c);
        const res = await c.rest(old, 'POST', '/reinitialize', {});
        check(res.status === 200, `reinitialize answered ${res.status} ${res.body}`, c);
        await c.until(healthy(c, 2), 90_000);
      },
      rewindOff,
    ),
};
