/**
 * Scenarios of synchronous replication that a reload or an agent restart could break: the
 * leader must never empty synchronous_standby_names while it has a synchronous standby.
 */
import { aReplica, check, healthy, onHealthyCluster, type Scenario } from './harness.ts';

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

export const restartedAgentKeepsSynchronousNames: Scenario = {
  name: 'an agent restarted on its running synchronous primary never empties synchronous_standby_names',
  run: (inspect) =>
    onHealthyCluster(
      inspect,
      async (c) => {
        const leader = c.node(c.leader()!);
        await c.until(() => leader.postgres.synchronousStandbyNames() !== '', 30_000);
        const names = leader.postgres.synchronousStandbyNames();
        await leader.killAgent();
        // Changed while the agent is away: the restarted agent has parameters to reload.
        const other = aReplica(c).name;
        const res = await c.rest(other, 'PATCH', '/config', {
          postgresql: { parameters: { work_mem: '8MB' } },
        });
        check(res.status === 200, `PATCH /config answered ${res.status} ${res.body}`, c);
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
      },
      { dcs: { ttl: 30, loop_wait: 10, retry_timeout: 10, synchronous_mode: true } },
    ),
};

export const restartedAgentHoldsParameterReload: Scenario = {
  name: 'an agent restarted with changed parameters in its /config copy holds the reload until it has seen PostgreSQL, then keeps the synchronous standby',
  run: (inspect) =>
    onHealthyCluster(
      inspect,
      async (c) => {
        const leader = c.node(c.leader()!);
        await c.until(() => leader.postgres.synchronousStandbyNames() !== '', 30_000);
        const names = leader.postgres.synchronousStandbyNames();
        // Changed while the agent runs: it keeps the new /config in the data directory, so the
        // restarted agent starts from bootstrap.dcs, then finds other parameters in its copy before
        // its first status sample (serverParameters' reloadHeld).
        const res = await c.rest(leader.name, 'PATCH', '/config', {
          postgresql: { parameters: { work_mem: '16MB' } },
        });
        check(res.status === 200, `PATCH /config answered ${res.status} ${res.body}`, c);
        await c.advance(2000);
        await leader.killAgent();
        const reloadsBefore = leader.postgres.reloadedWhileWritable.length;
        await leader.restart();
        for (let t = 0; t < 20_000; t += 100) {
          await c.advance(100);
          const now = leader.postgres.synchronousStandbyNames();
          check(now !== '', `synchronous_standby_names '${names}' was emptied at ${c.now()} ms`, c);
        }
        // Also a value in effect for no time at all: every reload of the writable primary since.
        const given = leader.postgres.reloadedWhileWritable.slice(reloadsBefore);
        check(
          given.length > 0 && !given.includes(''),
          `reloads gave synchronous_standby_names ${JSON.stringify(given)}`,
          c,
        );
        await c.until(healthy(c, 2), 30_000);
      },
      { dcs: { ttl: 30, loop_wait: 10, retry_timeout: 10, synchronous_mode: true } },
    ),
};
