/**
 * Invariants the seeded runner (runner.ts) checks while a fault schedule plays on a simulated
 * cluster. Each check answers null (holds) or a description of what it saw.
 */
import type { SimulatedCluster } from './cluster.ts';

export interface InvariantContext {
  cluster: SimulatedCluster;
  /** The schedule step being played (0-based; the heal phase is `steps`). */
  step: number;
  synchronousMode: boolean;
}

export interface Invariant {
  name: string;
  /** null when the invariant holds, else what was seen. */
  check(ctx: InvariantContext): string | null;
}

/**
 * (1) Never two nodes whose PostgreSQL accepts writes while their agents both believe they hold
 * leadership, at the same virtual time. A frozen (SIGSTOPped) agent believes nothing new, so
 * only running agents count; a dead agent reports nothing.
 */
export const singleWritableLeader: Invariant = {
  name: 'single-writable-leader',
  check({ cluster }) {
    const both = cluster.nodes.filter(
      (n) => n.alive() && !n.frozen() && n.postgres.writable() && n.report()?.isLeader === true,
    );
    if (both.length < 2) return null;
    return `${both.map((n) => n.name).join(', ')} are writable and all believe they lead (DCS leader: ${cluster.leader() ?? 'none'})`;
  },
};

/** (2) With synchronous_mode on, no acknowledged write is missing from the leader's WAL. */
export const noLostAcknowledgedWrites: Invariant = {
  name: 'no-lost-acknowledged-writes',
  check({ cluster, synchronousMode }) {
    if (!synchronousMode) return null;
    const lost = cluster.lostWrites();
    if (lost.length === 0) return null;
    return `${lost.length} acknowledged write(s) missing from leader ${cluster.leader()}: ${lost
      .slice(0, 3)
      .map((c) => `lsn ${c.lsn} tl ${c.timeline}`)
      .join(', ')}`;
  },
};

/** Checked at every tick of virtual time. */
export const tickInvariants: Invariant[] = [singleWritableLeader];
/** Checked after every step. */
export const stepInvariants: Invariant[] = [noLostAcknowledgedWrites];

/** (3) After every fault heals, a leader whose PostgreSQL accepts writes. */
export function leaderAfterHeal(cluster: SimulatedCluster): boolean {
  const l = cluster.leader();
  return l !== null && cluster.node(l).postgres.writable() && cluster.primaries().length === 1;
}
