/**
 * What an outside observer saw when a replica's agent judged itself the healthiest node in the
 * leader race (its election's verdict), for the invariant that the race never passes over a
 * better candidate (invariants/race.ts): where its WAL ended, and for every other node whether
 * the racer could reach it, whether it was a member, a replica fit to take over, and how far
 * its WAL went. Taken at the verdict itself, before anything else moves.
 */
import type { SimulatedNode } from './node.ts';

export interface CandidateWitness {
  name: string;
  /**
   * Its agent answered the racer all through the race's probe: alive, not frozen, not cut off,
   * not refusing it, and none of that changed during the probe's 2 s (an agent started or thawed,
   * a cut healed meanwhile, was not there to be asked).
   */
  reachable: boolean;
  /** It has a member key: the race asks only members (a node cut from etcd long enough has none). */
  member: boolean;
  /** Its PostgreSQL runs in recovery, and has since before the race's probe began. */
  replica: boolean;
  nofailover: boolean;
  timeline: number | null;
  lsn: number | null;
  /**
   * Its WAL still grows: it streams while a writable server runs (an orphan whose agent is frozen
   * or dead, fenced by nobody yet). Where it stood when the race asked it is not where it stands
   * at the verdict, and no race can know better.
   */
  moving: boolean;
}

export interface RaceWitness {
  node: string;
  at: number;
  timeline: number;
  lsn: number;
  others: CandidateWitness[];
  /** An operator named this node as the candidate of a switchover or failover before it. */
  requested: boolean;
  /** With synchronous_mode: /sync as etcd held it (null: asynchronous, or no key). */
  sync: { leader: string | null; standbys: string[] } | null;
}

export interface WitnessWorld {
  nodes: readonly SimulatedNode[];
  now(): number;
  linked(a: string, b: string): boolean;
  accepts(node: string, from: string): boolean;
  isMember(name: string): boolean;
  /** When `name` last became reachable again (a heal, a REJECT rule lifted). */
  reachableAgainAt(name: string): number;
}

/** How long before its verdict a race's probe may have begun (Patroni's 2 s per member). */
const PROBE_WINDOW_MS = 2000;

/** The witness of `racer`'s verdict; null when its PostgreSQL is not a replica with WAL. */
export function witnessRace(
  world: WitnessWorld,
  racer: SimulatedNode,
  facts: Pick<RaceWitness, 'requested' | 'sync'>,
): RaceWitness | null {
  const own = racer.postgres.wal();
  if (!own || !racer.postgres.running() || racer.postgres.writable()) return null;
  const since = world.now() - PROBE_WINDOW_MS;
  const writableServer = world.nodes.some((n) => n.postgres.running() && n.postgres.writable());
  const others = world.nodes
    .filter((n) => n !== racer)
    .map((n) => {
      const wal = n.postgres.wal();
      return {
        name: n.name,
        reachable:
          n.alive() &&
          !n.frozen() &&
          world.linked(racer.name, n.name) &&
          world.accepts(n.name, racer.name) &&
          n.startedAt <= since &&
          n.thawedAt <= since &&
          world.reachableAgainAt(n.name) <= since &&
          world.reachableAgainAt(racer.name) <= since,
        member: world.isMember(n.name),
        // A PostgreSQL that came up during the probe may have been down when asked (its agent
        // then rightly said so): it was not there to defer to.
        replica:
          n.postgres.running() && !n.postgres.writable() && (n.postgres.proc?.startedAt ?? Infinity) <= since,
        nofailover: n.config.tags.nofailover,
        timeline: wal?.timeline ?? null,
        lsn: wal?.lsn ?? null,
        moving: writableServer && n.postgres.proc?.connected === true,
      };
    });
  return { node: racer.name, at: world.now(), timeline: own.timeline, lsn: own.lsn, others, ...facts };
}
