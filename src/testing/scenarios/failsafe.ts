/**
 * Scenarios of failsafe mode (Patroni 3.0's `failsafe_mode`, src/cluster/failsafe.ts): the leader
 * stays primary through a DCS outage while every member /failsafe names confirms it, and demotes
 * by its deadline as soon as one cannot; a replica that confirmed it does not race, even when etcd
 * shows no leader key.
 */
import type { SimulatedCluster } from '../cluster/index.ts';
import { check, electionState, healthy, onHealthyCluster, type Scenario } from './harness.ts';

const FAILSAFE = { dcs: { ttl: 30, loop_wait: 10, retry_timeout: 10, failsafe_mode: true } };

/** /failsafe, as etcd holds it. */
function failsafeKey(c: SimulatedCluster): Record<string, string> | null {
  const raw = c.store.get('/service/sim/failsafe')?.value;
  return raw ? (JSON.parse(raw) as Record<string, string>) : null;
}

/** Healthy, and /failsafe names every node. */
async function failsafeReady(c: SimulatedCluster): Promise<void> {
  await c.until(() => Object.keys(failsafeKey(c) ?? {}).length === c.nodes.length, 30_000);
}

/** Advances `ms` in 1 s steps; `each` must hold after every one. */
async function holding(c: SimulatedCluster, ms: number, what: string, each: () => boolean): Promise<void> {
  for (let t = 0; t < ms; t += 1000) {
    await c.advance(1000);
    check(each(), `${what} (after ${t + 1000} ms)`, c);
  }
}

export const failsafeThroughEtcdOutage: Scenario = {
  name: 'failsafe mode: etcd down for 60 s with every node up: the leader stays primary and writable, nobody is promoted',
  run: (inspect) =>
    onHealthyCluster(
      inspect,
      async (c) => {
        await failsafeReady(c);
        const leader = c.leader()!;
        const promotions = c.world.promotions.length;
        c.dcs.setAvailable(false);
        await holding(c, 60_000, `${leader} stopped accepting writes`, () => c.acceptsClientWrites(leader));
        check(
          c.node(leader).report()?.failsafeActive === true,
          'the leader does not say failsafe mode is active',
          c,
        );
        const w = c.writeTo(leader);
        await c.advance(1000);
        check(w.state === 'acknowledged', `a write during the outage was ${w.state}`, c);
        // The leader confirms nobody else (and says why, as Patroni).
        const asked = await c.rest(leader, 'POST', '/failsafe', { name: 'node9', conn_url: '', api_url: '' });
        check(
          asked.status === 500 && asked.body === 'Running as a leader',
          `the leader answered ${asked.status} ${asked.body}`,
          c,
        );
        c.dcs.setAvailable(true);
        await c.until(healthy(c, 2), 60_000);
        check(c.leader() === leader, `the leader is ${c.leader()}`, c);
        check(c.world.promotions.length === promotions, 'a node was promoted', c);
        await c.until(() => c.node(leader).report()?.failsafeActive === false, 30_000);
      },
      FAILSAFE,
    ),
};

export const failsafeWithWatchdogThroughEtcdOutage: Scenario = {
  // Found by review: with a watchdog armed the leader refreshed at half its watchdog window, and a
  // refresh to an etcd that does not answer fails only after retry_timeout: the window ended
  // before the members were asked, so failsafe mode never kept a leader with a watchdog.
  name: 'failsafe mode with a watchdog: etcd down for 60 s, the leader kept by its members and its watchdog kept alive; nobody reset or promoted',
  run: (inspect) =>
    onHealthyCluster(
      inspect,
      async (c) => {
        await failsafeReady(c);
        const leader = c.leader()!;
        const promotions = c.world.promotions.length;
        check(c.watchdogs!.devices.get(leader)!.armed, 'the leader did not arm its watchdog', c);
        c.dcs.setAvailable(false);
        await holding(c, 60_000, `${leader} stopped accepting writes`, () => c.acceptsClientWrites(leader));
        check(c.watchdogs!.firings.length === 0, 'a watchdog reset a node', c);
        check(c.watchdogs!.devices.get(leader)!.armed, 'the leader closed its watchdog', c);
        c.dcs.setAvailable(true);
        await c.until(healthy(c, 2), 60_000);
        check(c.leader() === leader && c.world.promotions.length === promotions, 'the leadership moved', c);
      },
      { ...FAILSAFE, watchdog: { mode: 'automatic' } },
    ),
};

export const failsafeLeaderCutFromAMember: Scenario = {
  name: 'failsafe mode: etcd down and the leader cut from one replica: it demotes by its deadline, never beside another primary',
  run: (inspect) =>
    onHealthyCluster(
      inspect,
      async (c) => {
        await failsafeReady(c);
        const leader = c.leader()!;
        const cut = c.nodes.find((n) => n.name !== leader)!.name;
        c.partition(leader, cut);
        c.dcs.setAvailable(false);
        // ttl (30 s) less the margin after its last refresh: demoted well within 35 s.
        await c.until(() => !c.acceptsClientWrites(leader), 35_000);
        check(c.primaries().length === 0, `primaries: ${c.primaries().join(', ')}`, c);
        c.dcs.setAvailable(true);
        c.heal(leader, cut);
        await c.until(healthy(c, 2), 120_000);
      },
      FAILSAFE,
    ),
};

export const failsafeLeaderCutFromEtcd: Scenario = {
  name: 'failsafe mode: the leader alone cut from etcd: its key expires, yet the replicas that confirmed it do not race; it stays primary and takes its key back',
  run: (inspect) =>
    onHealthyCluster(
      inspect,
      async (c) => {
        await failsafeReady(c);
        const leader = c.leader()!;
        const promotions = c.world.promotions.length;
        c.node(leader).setDcsReachable(false);
        // Well past the ttl: etcd expires the key, the replicas see no leader.
        await holding(
          c,
          90_000,
          `${leader} lost its primary, or another node was promoted`,
          () => c.acceptsClientWrites(leader) && c.primaries().length === 1,
        );
        check(c.store.get('/service/sim/leader') === undefined, 'the leader key did not expire', c);
        c.node(leader).setDcsReachable(true);
        await c.until(() => c.leader() === leader && healthy(c, 2)(), 60_000);
        check(c.world.promotions.length === promotions, 'a node was promoted', c);
      },
      FAILSAFE,
    ),
};

export const failsafeReplicaHoldsBack: Scenario = {
  name: 'failsafe mode: the leader cut from etcd, its key expired, then cut from a replica: that replica, having confirmed it, does not race before the leader has demoted',
  run: (inspect) =>
    onHealthyCluster(
      inspect,
      async (c) => {
        await failsafeReady(c);
        const leader = c.leader()!;
        const replica = c.nodes.find((n) => n.name !== leader)!.name;
        c.node(leader).setDcsReachable(false);
        await c.until(() => c.store.get('/service/sim/leader') === undefined, 60_000);
        c.partition(leader, replica);
        // The replica can no longer see the leader and etcd shows no leader key: only its
        // confirmation keeps it from racing until the leader's deadline has passed.
        let both = false;
        await c.advance(60_000, () => {
          both ||= c.primaries().length > 1;
          return !both;
        });
        check(!both, `two primaries: ${c.primaries().join(', ')}`, c);
        check(!c.acceptsClientWrites(leader), `${leader} is still writable`, c);
        c.node(leader).setDcsReachable(true);
        c.heal(leader, replica);
        await c.until(healthy(c, 2), 120_000);
      },
      FAILSAFE,
    ),
};

export const failsafeTopologyFollowsMembers: Scenario = {
  name: 'failsafe mode: /failsafe follows the members; a write etcd fails is tried again after the next refresh; a rogue primary confirms nobody',
  run: (inspect) =>
    onHealthyCluster(
      inspect,
      async (c) => {
        await failsafeReady(c);
        const leader = c.leader()!;
        const gone = c.nodes.find((n) => n.name !== leader)!;
        // The member key goes (its agent stopped long enough): /failsafe drops it, once etcd answers.
        c.dcs.setLatency(1000);
        await gone.killAgent();
        c.store.delete(`/service/sim/members/${gone.name}`);
        const writing = () => electionState(c, leader) === 'leader.holding.writingTopology';
        await c.until(writing, 20_000);
        c.dcs.setAvailable(false);
        await c.until(() => !writing(), 20_000);
        c.dcs.setAvailable(true);
        c.dcs.setLatency(0);
        await c.until(() => !(gone.name in (failsafeKey(c) ?? { [gone.name]: '' })), 60_000);
        await gone.restart();
        await c.until(() => Object.keys(failsafeKey(c) ?? {}).length === c.nodes.length, 60_000);
        // Someone promotes a replica by hand: its PostgreSQL runs as a primary, so it confirms no leader.
        const rogue = c.nodes.find((n) => n.name !== leader && n.name !== gone.name)!;
        await c.until(healthy(c, 2), 60_000);
        await c.waitFor(rogue.postgres.promote(30));
        await c.until(() => rogue.report()?.pg?.inRecovery === false, 10_000);
        const asked = await c.rest(rogue.name, 'POST', '/failsafe', {
          name: leader,
          conn_url: '',
          api_url: '',
        });
        check(
          asked.status === 500 && asked.body === 'Running as a leader',
          `the rogue answered ${asked.status} ${asked.body}`,
          c,
        );
        await c.until(() => c.primaries().length === 1 && c.primaries()[0] === leader, 60_000);
      },
      FAILSAFE,
    ),
};
