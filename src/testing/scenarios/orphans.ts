/**
 * Orphan primaries (src/cluster/orphans.ts): the PostgreSQL of a leader whose agent was killed or
 * frozen is fenced by the node that takes the lock, before that node's own promotion, and the
 * fence is lifted when the old node rejoins.
 */
import { FENCE_SESSION_WAIT_MS } from '../../cluster/orphans.ts';
import type { SimulatedCluster } from '../cluster/index.ts';
import { defaultDurations } from '../simulated-postgres/types.ts';
import { check, healthy, onHealthyCluster, type Scenario } from './harness.ts';

/** A client with `node`'s address writes every 200 ms until `done` holds (at most `ms`), then 5 s more. */
async function writingTo(c: SimulatedCluster, node: string, done: () => boolean, ms: number): Promise<void> {
  const until = c.now() + ms;
  while (!done()) {
    check(c.now() < until, `not done within ${ms / 1000} s`, c);
    c.writeTo(node);
    await c.advance(200);
  }
  for (let i = 0; i < 25; i++) {
    c.writeTo(node);
    await c.advance(200);
  }
}

/** The first promotion of a node other than `old` since `promotionsBefore` were counted. */
function promotionAfter(c: SimulatedCluster, old: string, promotionsBefore: number) {
  return c.world.promotions.slice(promotionsBefore).find((p) => p.node !== old);
}

/** Client writes the old leader acknowledged after the first promotion of another node. */
function lateAcknowledgements(c: SimulatedCluster, old: string, promotionsBefore: number): number {
  const promoted = promotionAfter(c, old, promotionsBefore);
  if (!promoted) return 0;
  return c.world.acknowledged.filter((w) => w.node === old && (w.ackedAt ?? 0) > promoted.at).length;
}

export const agentKilledOrphanFenced: Scenario = {
  name: "kill -9 of the leader's agent alone: its PostgreSQL is fenced before the new leader promotes, and lifted when it rejoins",
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const old = c.leader()!;
      const promotions = c.world.promotions.length;
      await c.node(old).killAgent();
      // Clients keep writing to the old server as long as it lets them (a stale address).
      await writingTo(
        c,
        old,
        () => c.leader() !== null && c.leader() !== old && c.primaries().length === 1,
        60_000,
      );
      check(!c.node(old).postgres.writable(), 'the old leader still accepts writes', c);
      check(
        lateAcknowledgements(c, old, promotions) === 0,
        'the old leader acknowledged writes after the promotion',
        c,
      );
      check(
        c.logs.some((l) => l.includes(`${old}: FENCED, an orphan primary`)),
        'no fence in the log',
        c,
      );
      // Its agent comes back: it demotes, rewinds, and rejoins without the fence.
      await c.node(old).restart();
      await c.until(healthy(c, 2), 90_000);
      check(c.node(old).postgres.data?.fenced !== true, 'the fence was not lifted on rejoin', c);
    }),
};

export const agentFrozenOrphanFenced: Scenario = {
  name: "the leader's agent frozen past the ttl: its PostgreSQL is fenced, and the agent demotes it once thawed",
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const old = c.leader()!;
      const promotions = c.world.promotions.length;
      c.node(old).freeze();
      await writingTo(
        c,
        old,
        () => c.leader() !== null && c.leader() !== old && c.primaries().length === 1,
        60_000,
      );
      check(
        lateAcknowledgements(c, old, promotions) === 0,
        'the old leader acknowledged writes after the promotion',
        c,
      );
      c.node(old).thaw();
      await c.until(healthy(c, 2), 90_000);
    }),
};

export const orphanCutFromCandidate: Scenario = {
  name: "the leader's agent killed while its host is cut from the others: the promotion goes on within the fence budget, and the new leader's watch fences the orphan once it is reachable",
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const old = c.leader()!;
      await c.node(old).killAgent();
      for (const n of c.nodes) if (n.name !== old) c.partition(old, n.name);
      await c.until(() => c.leader() !== null && c.leader() !== old && c.primaries().length === 2, 60_000);
      check(
        c.logs.some((l) => l.includes(`${old}: not reached`)),
        'no failed fence in the log',
        c,
      );
      const leader = c.leader()!;
      for (const n of c.nodes) if (n.name !== old) c.heal(old, n.name);
      // Reachable again: the leader's watch (every loop_wait) finds it writable and fences it.
      await c.until(() => !c.node(old).postgres.writable(), 15_000);
      check(
        c.logs.some((l) => l.includes(`${leader}: `) && l.includes(`${old}: FENCED`)),
        'no fence in the log',
        c,
      );
      await c.node(old).restart();
      await c.until(healthy(c, 2), 90_000);
    }),
};

export const orphanSlowToOpenSessions: Scenario = {
  name: "kill -9 of the leader's agent, its PostgreSQL 1.2 s slow to open a session: the promotion waits 0.4 s for it, and the new leader's first watch at rest fences it within seconds, not a loop later",
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const old = c.leader()!;
      const promotions = c.world.promotions.length;
      c.node(old).postgres.setDurations({ sessionMs: 1200 });
      await c.node(old).killAgent();
      await c.until(() => promotionAfter(c, old, promotions) !== undefined, 60_000);
      const promoted = promotionAfter(c, old, promotions)!;
      check(
        c.logs.some((l) => l.includes(`${old}: not reached`) && l.includes('timeout expired')),
        'the promotion did not give up on the slow server',
        c,
      );
      await c.until(() => !c.node(old).postgres.writable(), 30_000);
      const fencedAfterMs = c.now() - promoted.at;
      check(
        fencedAfterMs <= FENCE_SESSION_WAIT_MS.watch + 2000,
        `the orphan was fenced ${fencedAfterMs} ms after the promotion: not by the first watch`,
        c,
      );
      c.node(old).postgres.setDurations({ sessionMs: defaultDurations.sessionMs });
      await c.node(old).restart();
      await c.until(healthy(c, 2), 90_000);
    }),
};

export const orphanKnownFromTheDataDirectory: Scenario = {
  name: "a node started after a frozen leader's keys expired still fences its PostgreSQL: the address book kept in its data directory",
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const old = c.leader()!;
      const [late, cut] = c.nodes.filter((n) => n.name !== old);
      // Long enough for the loop to keep the book in the data directory first.
      await c.advance(12_000);
      await late!.kill();
      c.node(old).freeze();
      cut!.setDcsReachable(false);
      // Every key of the old leader expires; nobody can take over meanwhile.
      await c.advance(60_000);
      const promotions = c.world.promotions.length;
      await late!.restart();
      await writingTo(
        c,
        old,
        () => c.leader() === late!.name && c.node(late!.name).postgres.writable(),
        90_000,
      );
      check(
        lateAcknowledgements(c, old, promotions) === 0,
        'the old leader acknowledged writes after the promotion',
        c,
      );
      check(!c.node(old).postgres.writable(), 'the old leader still accepts writes', c);
      cut!.setDcsReachable(true);
      c.node(old).thaw();
      await c.until(healthy(c, 2), 120_000);
    }),
};

export const orphanScenarios: Scenario[] = [
  orphanKnownFromTheDataDirectory,
  agentKilledOrphanFenced,
  agentFrozenOrphanFenced,
  orphanCutFromCandidate,
  orphanSlowToOpenSessions,
];
