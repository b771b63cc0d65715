/**
 * The short lease (docs/design-gossip-failover.md §3): fast failover without trusting anyone's
 * wall clock. The leader writes only while a short lease `G` holds, renewed by an etcd keepalive
 * or by a majority of its term's members acknowledging one of its lease frames — counted from
 * when the keepalive or the frame was *sent*. A member that has heard nothing of the term for
 * `W` gives it up for good; a candidate may remove the leader key before etcd expires it only
 * with a proof: enough of the term's members gave it up, and the leader key has not changed
 * (the leader renews through etcd by writing it) for `W` either. Pure functions: the election and the gossip hub carry them out.
 *
 * Why no two writers, in short: the majority that gave up and any majority the leader could count
 * share a member, which acked no frame after it gave up; it gave up `W` after the last frame it
 * heard, by which time (drift allowed for) that frame's lease had run out on the leader's own
 * clock, and the leader stopped writing a fencing budget before that. etcd's half alike. An
 * agent that cannot stop its PostgreSQL (killed, frozen) is fenced by the node that takes over,
 * before it promotes, as on any failover (src/cluster/orphans.ts).
 */

/** The largest rate difference between any two hosts' steady clocks (the simulator's drift goes to 0.5 %). */
export const MAX_CLOCK_DRIFT = 0.005;
/** Timers fire late, never early; this covers a timer read a few ms early by rounding. */
const TIMER_SLACK_MS = 50;
/** How long before its short lease ends the leader starts to stop PostgreSQL (an immediate stop). */
export const FENCE_BUDGET_MS = 500;
/** The short lease when the configuration names none (s). */
export const DEFAULT_SHORT_LEASE_S = 3;
/** The shortest short lease allowed (s): under it, one late timer costs a demotion. */
export const MIN_SHORT_LEASE_S = 1;
/** The longest (s): past it fast failover is not fast, and the ttl does the job. */
export const MAX_SHORT_LEASE_S = 30;

/** A leader's term: its name and the etcd lease its key rides on (a new lease is a new term). */
export interface Term {
  leader: string;
  lease: string;
}

export function sameTerm(a: Term | null, b: Term | null): boolean {
  return a !== null && b !== null && a.leader === b.leader && a.lease === b.lease;
}

/**
 * How long after it last heard a term a member gives it up: the lease `G` as the slowest clock
 * may stretch it against the fastest, and timer slack. Counted from *receiving* the last frame,
 * which is later than its sending: the safe side.
 */
export function giveUpAfterMs(leaseMs: number): number {
  return Math.ceil((leaseMs * (1 + MAX_CLOCK_DRIFT)) / (1 - MAX_CLOCK_DRIFT)) + TIMER_SLACK_MS;
}

/**
 * How long after a leader's last frame a member must assume its host may still write: the short
 * lease — or, with a watchdog armed there, for ever (null: the term is never given up early). A
 * leader whose agent is frozen or killed beside a running PostgreSQL cannot fence itself; only its
 * watchdog ends those writes, its timeout runs from the last keepalive (which a member cannot
 * see: it may follow the last frame by as long as a refresh takes), and it is about as long as
 * the ttl anyway. So fast failover stands down there, and failover waits for the lease, which the
 * watchdog is set to outlast (src/cluster/watchdog.ts). The simulator found it (seed 42,
 * `--fast-failover --watchdog --failsafe`: a keepalive five seconds after the last frame a member
 * heard).
 */
export function memberHoldMs(leaseMs: number, watchdogMs: number | null): number | null {
  return watchdogMs === null ? leaseMs : null;
}

/** How long the leader may still write after a renewal sent `ageMs` ago, fencing budget taken off. */
export function writableForMs(leaseMs: number, ageMs: number): number {
  return leaseMs - FENCE_BUDGET_MS - Math.max(0, ageMs);
}

/**
 * When the leader renews through etcd (a write of its key) because gossip has not: once its
 * newest renewal is this old. Gossip renews every third of the lease, so this fires when a frame
 * found no majority within half a frame interval; the write then has the rest of the window, less
 * the fencing budget, to land.
 */
export function etcdRenewalDueInMs(leaseMs: number, ageMs: number): number {
  return Math.max(0, Math.floor(leaseMs / 2) - Math.max(0, ageMs));
}

/**
 * How often the leader sends its lease frame: three per lease. Four (session 16) cost a third
 * more of the idle CPU fast failover adds (each frame is a write and an ack per member and a
 * renewal through the election and its journal) and bought nothing: a frame that found no
 * majority is covered by the etcd write at half the lease either way.
 */
export function leaseFrameIntervalMs(leaseMs: number): number {
  return Math.max(100, Math.floor(leaseMs / 3));
}

/** Whether `voters` (the members that acked a lease frame, the leader itself included) are a majority of `members`. */
export function isMajority(members: readonly string[], voters: ReadonlySet<string>): boolean {
  const set = new Set(members);
  let n = 0;
  for (const v of voters) if (set.has(v)) n++;
  return set.size > 0 && n * 2 > set.size;
}

/**
 * What a member does with a lease frame of `term` heard at steady `now`: ack it, unless it gave
 * the term up — already, or now, because more than its give-up time passed since it last heard
 * it (a frame that arrives after its give-up timer should have fired, before the timer ran).
 * `holdMs`: what the last frame heard asked it to hold (memberHoldMs; null: never given up).
 */
export function ackOrGiveUp(
  heard: { lastHeardAt: number; givenUp: boolean; holdMs: number | null } | null,
  now: number,
): 'ack' | 'give-up' | 'given-up' {
  if (heard?.givenUp) return 'given-up';
  if (heard?.holdMs != null && now - heard.lastHeardAt >= giveUpAfterMs(heard.holdMs)) return 'give-up';
  return 'ack';
}

/** What a member has gathered for removing the leader key early (the election judges it). */
export interface StaleLeaderProof extends TakeoverProof {
  /** The leader key's mod revision the proof is about: the removal compares it. */
  index: string;
  /** How long this node has seen the key at that revision, on its own steady clock. */
  keyUnchangedForMs: number;
}

/**
 * The members the race after a removal asks: not the leader proven gone. It stopped writing by
 * its lease's end, and its agent, if it runs at all, is out of reach (nothing from it for W, over
 * gossip or etcd): asking it would only wait out the probe's budget (2 s of write outage for a
 * frozen host, which still answers TCP) for an answer that cannot make it a candidate.
 */
export function withoutProvenGone<M extends { name: string }>(
  members: readonly M[],
  proof: StaleLeaderProof | null,
): readonly M[] {
  return proof ? members.filter((m) => m.name !== proof.term.leader) : members;
}

/**
 * Whether a proof still speaks of the lock as `leader` shows it: the same term, or no key at all
 * (its removal, and the race after it). A key of another term or holder ends it.
 */
export function proofStillCurrent(
  proof: StaleLeaderProof | null,
  leader: { name: string; session?: string | null } | null,
): boolean {
  if (!proof) return false;
  return leader === null || (leader.name === proof.term.leader && leader.session === proof.term.lease);
}

/** Both halves: the gossip half and etcd's. */
export function provenGone(p: StaleLeaderProof): boolean {
  return gossipHalfHolds(p) && etcdHalfHolds(p.leaseMs, p.keyUnchangedForMs);
}

export interface TakeoverProof {
  term: Term;
  /** The term's members, as its lease frames named them. */
  members: readonly string[];
  /** Members known to have given the term up (this node included, if it has). An array, not a
   * set: the proof travels in an event, and journals must keep it. */
  gaveUp: readonly string[];
  leaseMs: number;
}

/**
 * Whether the gossip half of the proof holds: the term's members are known (a frame of it was
 * heard) and enough of them besides the leader gave it up to meet every quorum the leader can
 * count. A leader quorum is a majority of the members with the leader in it: at least
 * ⌊n/2⌋ of the n − 1 others; ⌈n/2⌉ of them giving up leaves none that misses them all. With
 * two members one give-up is enough; alone, the leader can never be given up early.
 */
export function gossipHalfHolds(p: TakeoverProof): boolean {
  const members = new Set(p.members);
  if (!members.has(p.term.leader)) return false;
  let n = 0;
  for (const g of new Set(p.gaveUp)) if (g !== p.term.leader && members.has(g)) n++;
  return n > 0 && n >= Math.ceil(members.size / 2);
}

/**
 * Whether etcd's half holds: the leader key unchanged (the same mod revision) for W since this
 * node first saw it so, on its own clock. The leader renews through etcd only by writing its key
 * (each write a new mod revision), so the last renewal etcd took was sent before this node saw
 * the key as it is; and the removal compares that revision, so a renewal since makes it fail.
 */
export function etcdHalfHolds(leaseMs: number, keyUnchangedForMs: number): boolean {
  return keyUnchangedForMs >= giveUpAfterMs(leaseMs);
}
