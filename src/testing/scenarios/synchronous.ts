/**
 * Scenarios of synchronous replication that a reload or an agent restart could break: the
 * leader must never empty synchronous_standby_names while it has a synchronous standby.
 */
import type { SimulatedCluster } from '../cluster/index.ts';
import { aReplica, check, healthy, nodeMessage, onHealthyCluster, type Scenario } from './harness.ts';

export const reloadKeepsSynchronousStandby: Scenario = {
  name: 'POST /reload on a synchronous leader keeps PostgreSQL waiting for its synchronous standby',
  run: (inspect) =>
    onHealthyCluster(
      inspect,
      async (c) => {
        const leader = c.node(c.leader()!);
        await c.until(() => c.synchronousStandbys().length === 1, 30_000);
        const before = leader.postgres.synchronousStandbyNames();
        const reloadsBefore = leader.postgres.reloadedWhileWritable.length;
        const res = await c.rest(leader.name, 'POST', '/reload');
        check(res.status === 202, `reload answered ${res.status} ${res.body}`, c);
        await c.advance(2000);
        const after = leader.postgres.synchronousStandbyNames();
        check(after === before && after !== '', `synchronous_standby_names '${before}' became '${after}'`, c);
        const given = leader.postgres.reloadedWhileWritable.slice(reloadsBefore);
        check(!given.includes(''), `reloads gave synchronous_standby_names ${JSON.stringify(given)}`, c);
      },
      { dcs: { ttl: 30, loop_wait: 10, retry_timeout: 10, synchronous_mode: true } },
    ),
};

/**
 * The leader's agent killed and started again beside its running synchronous primary, after
 * `change` (run while the agent is up or away, as `agentAwayFirst` says): for 20 s the primary
 * never runs with an empty synchronous_standby_names, not even for no virtual time (every value a
 * reload gave it is checked), and the cluster heals.
 */
async function restartLeaderAgent(
  c: SimulatedCluster,
  agentAwayFirst: boolean,
  change: (leader: string) => Promise<void>,
): Promise<void> {
  const leader = c.node(c.leader()!);
  await c.until(() => leader.postgres.synchronousStandbyNames() !== '', 30_000);
  const names = leader.postgres.synchronousStandbyNames();
  if (agentAwayFirst) await leader.killAgent();
  await change(leader.name);
  if (!agentAwayFirst) await leader.killAgent();
  const reloadsBefore = leader.postgres.reloadedWhileWritable.length;
  await leader.restart();
  for (let t = 0; t < 20_000; t += 100) {
    await c.advance(100);
    const now = leader.postgres.synchronousStandbyNames();
    check(now !== '', `synchronous_standby_names '${names}' was emptied at ${c.now()} ms`, c);
  }
  const given = leader.postgres.reloadedWhileWritable.slice(reloadsBefore);
  check(!given.includes(''), `reloads gave synchronous_standby_names ${JSON.stringify(given)}`, c);
  await c.until(healthy(c, 2), 30_000);
}

async function patchParameters(c: SimulatedCluster, via: string, workMem: string): Promise<void> {
  const res = await c.rest(via, 'PATCH', '/config', { postgresql: { parameters: { work_mem: workMem } } });
  check(res.status === 200, `PATCH /config answered ${res.status} ${res.body}`, c);
}

const SYNCHRONOUS = { dcs: { ttl: 30, loop_wait: 10, retry_timeout: 10, synchronous_mode: true } };

export const restartedAgentKeepsSynchronousNames: Scenario = {
  name: 'an agent restarted on its running synchronous primary never empties synchronous_standby_names',
  run: (inspect) =>
    onHealthyCluster(
      inspect,
      // Changed while the agent is away: the restarted agent has parameters to reload.
      (c) => restartLeaderAgent(c, true, () => patchParameters(c, aReplica(c).name, '8MB')),
      SYNCHRONOUS,
    ),
};

export const restartedAgentHoldsParameterReload: Scenario = {
  name: 'an agent restarted with changed parameters in its /config copy holds the reload until it has seen PostgreSQL, then keeps the synchronous standby',
  run: (inspect) =>
    onHealthyCluster(
      inspect,
      // Changed while the agent runs: it keeps the new /config in the data directory, so the
      // restarted agent starts from bootstrap.dcs, then finds other parameters in its copy before
      // its first status sample (serverParameters' reloadHeld).
      (c) =>
        restartLeaderAgent(c, false, async (leader) => {
          await patchParameters(c, leader, '16MB');
          await c.advance(2000);
        }),
      SYNCHRONOUS,
    ),
};

export const syncChangedWhileClaiming: Scenario = {
  name: '/sync rewritten by somebody else while the new leader claims it: no promotion, the lock goes back',
  run: (inspect) =>
    onHealthyCluster(
      inspect,
      async (c) => {
        const old = c.leader()!;
        await c.until(() => c.synchronousStandbys().length === 1, 30_000);
        // etcd answers slowly: the claim is decided on the view it has, its transaction lands later.
        c.dcs.setLatency(1000);
        await c.node(old).kill();
        const claiming = () =>
          c.nodes.find((n) =>
            n.agent?.actor.getSnapshot().matches({ active: { running: { promoting: 'claimingSync' } } }),
          );
        await c.until(() => claiming() !== undefined, 90_000);
        const candidate = claiming()!.name;
        c.store.put('/service/sim/sync', JSON.stringify({ leader: old, sync_standby: null }));
        await c.until(() => nodeMessage(c, candidate).includes('/sync was changed by somebody else'), 30_000);
        c.dcs.setLatency(0);
        await c.node(old).restart();
        await c.until(healthy(c, 2), 120_000);
      },
      SYNCHRONOUS,
    ),
};
