/**
 * Patroni's watchdog (src/cluster/watchdog.ts) on simulated devices: the leader keeps its
 * watchdog alive while it holds the lock, demotes before the watchdog would fire when etcd goes
 * away, is reset by it when its agent freezes, and in `required` mode never leads without one.
 */
import type { SimulatedCluster } from '../cluster/index.ts';
import type { SimulatedWatchdog } from '../cluster/watchdog.ts';
import { check, healthy, onHealthyCluster, type Scenario, setPause } from './harness.ts';

const device = (c: SimulatedCluster, node: string): SimulatedWatchdog => c.watchdogs!.devices.get(node)!;

export const watchdogThroughEtcdOutage: Scenario = {
  name: 'etcd gone with a watchdog armed: the leader demotes before its watchdog would fire, and closes it; nobody is reset',
  run: (inspect) =>
    onHealthyCluster(
      inspect,
      async (c) => {
        const leader = c.leader()!;
        check(device(c, leader).armed, 'the leader did not arm its watchdog', c);
        check(
          c.nodes.every((n) => n.name === leader || !device(c, n.name).armed),
          'a replica armed a watchdog',
          c,
        );
        c.dcs.setAvailable(false);
        await c.until(() => c.primaries().length === 0, 30_000);
        await c.advance(40_000);
        check(c.watchdogs!.firings.length === 0, 'a watchdog reset a node whose agent was running', c);
        check(!device(c, leader).armed, 'the demoted leader left its watchdog armed', c);
        c.dcs.setAvailable(true);
        await c.until(healthy(c, 2), 90_000);
        check(device(c, c.leader()!).armed, 'the next leader did not arm its watchdog', c);
      },
      { watchdog: { mode: 'automatic' } },
    ),
};

export const watchdogResetsFrozenLeader: Scenario = {
  name: "the leader's agent frozen: its watchdog resets the host before the lease runs out, so no other node is promoted beside a writable old primary",
  run: (inspect) =>
    onHealthyCluster(
      inspect,
      async (c) => {
        const old = c.leader()!;
        const promotions = c.world.promotions.length;
        c.node(old).freeze();
        await c.until(() => c.world.promotions.length > promotions, 60_000);
        const firing = c.watchdogs!.firings.find((f) => f.node === old);
        check(firing !== undefined, 'the frozen leader was not reset', c);
        const promoted = c.world.promotions[promotions]!;
        check(firing!.at <= promoted.at, 'the reset came after another node was promoted', c);
        check(!firing!.agentCouldAct, 'the reset is counted against a running agent', c);
        // The host boots again, and its agent rejoins as a replica.
        await c.until(healthy(c, 2), 120_000);
        check(c.leader() !== old, 'the reset node leads again', c);
      },
      { watchdog: { mode: 'automatic' } },
    ),
};

export const watchdogRequiredRefusesPromotion: Scenario = {
  name: "watchdog required: a node whose watchdog will not open takes the lock and gives it back ('Not promoting self because watchdog could not be activated'); one whose opens leads",
  run: (inspect) =>
    onHealthyCluster(
      inspect,
      async (c) => {
        const old = c.leader()!;
        const others = c.nodes.filter((n) => n.name !== old).map((n) => n.name);
        for (const n of others) device(c, n).broken = true;
        await c.node(old).kill();
        await c.until(
          () =>
            c.logs.some((l) =>
              l.includes('Configuration requires watchdog, but watchdog could not be activated'),
            ),
          90_000,
        );
        check(c.primaries().length === 0, 'a node was promoted without a watchdog', c);
        device(c, others[0]!).broken = false;
        await c.until(() => c.primaries().length === 1, 120_000);
        check(c.leader() === others[0], `${others[0]} (its watchdog working) should lead`, c);
        check(device(c, others[0]!).armed, 'the new leader did not arm its watchdog', c);
      },
      { watchdog: { mode: 'required' } },
    ),
};

export const watchdogRequiredLeaderDemotes: Scenario = {
  name: "watchdog required: a leader whose watchdog cannot be armed again after a pause gives the lock up ('Demoting self because watchdog could not be activated')",
  run: (inspect) =>
    onHealthyCluster(
      inspect,
      async (c) => {
        const old = c.leader()!;
        await setPause(c, true);
        await c.until(() => !device(c, old).armed, 30_000);
        device(c, old).broken = true;
        await setPause(c, false);
        await c.until(() => c.leader() !== null && c.leader() !== old && c.primaries().length === 1, 90_000);
        check(
          c.logs.some((l) => l.includes(`${old}: `) && l.includes('watchdog could not be activated')),
          'the old leader never said why',
          c,
        );
        check(c.watchdogs!.firings.length === 0, 'a watchdog reset a node', c);
      },
      { watchdog: { mode: 'required' } },
    ),
};

export const watchdogAfterAgentRestart: Scenario = {
  // Found by review: an agent restarted beside its running primary arms the watchdog before its
  // election leads again; the window must start all the same, or an etcd outage right after lets
  // the watchdog reset the healthy leader before it demotes.
  name: 'an agent restarted beside its primary arms the watchdog again, and an etcd outage right after still demotes it before the watchdog fires',
  run: (inspect) =>
    onHealthyCluster(
      inspect,
      async (c) => {
        const leader = c.leader()!;
        await c.node(leader).killAgent();
        await c.advance(2000);
        await c.node(leader).restart();
        await c.until(() => c.node(leader).report()?.isLeader === true && device(c, leader).armed, 30_000);
        c.dcs.setAvailable(false);
        await c.until(() => c.primaries().length === 0, 40_000);
        await c.advance(40_000);
        check(
          c.watchdogs!.firings.every((f) => !f.agentCouldAct),
          'a watchdog reset a node whose agent was running',
          c,
        );
        c.dcs.setAvailable(true);
        await c.until(healthy(c, 2), 90_000);
      },
      { watchdog: { mode: 'automatic' } },
    ),
};

export const watchdogScenarios: Scenario[] = [
  watchdogThroughEtcdOutage,
  watchdogResetsFrozenLeader,
  watchdogRequiredRefusesPromotion,
  watchdogRequiredLeaderDemotes,
  watchdogAfterAgentRestart,
];
