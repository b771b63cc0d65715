/**
 * Fast failover's gossip side (docs/design-gossip-failover.md §3; rules in
 * src/cluster/short-lease.ts): as the leader, a lease frame every third of the lease to every member,
 * and a renewal told to the election once a majority of the term's members acked one; as a
 * member, each frame acked unless its term was given up, the term given up W after its last
 * frame (for good, and said to everyone), and what is known of everyone's give-ups put together
 * into a proof the election judges. The hub carries the frames.
 */
import { type Clock, monotonicNow } from '../../actors/clock.ts';
import {
  ackOrGiveUp,
  giveUpAfterMs,
  gossipHalfHolds,
  isMajority,
  leaseFrameIntervalMs,
  memberHoldMs,
  type StaleLeaderProof,
} from '../../cluster/short-lease.ts';
import type { ClusterView } from '../../cluster/view.ts';
import type { ElectionEvent } from '../../machines/election/index.ts';
import {
  type GaveUpFrame,
  GOSSIP_VERSION,
  type GossipFrame,
  type LeaseFrame,
} from '../../transport/gossip-frame.ts';

export interface ShortLeaseHost {
  clock: Clock;
  me(): string;
  scope(): string;
  /** The short lease (ms); null: fast failover is off here. */
  leaseMs(): number | null;
  /** The timeout (ms) of the watchdog armed here, null: none armed. */
  watchdogMs(): number | null;
  /** The election holds the lock. */
  leading(): boolean;
  /** The next frame number: one sequence with the hub's frames, so that an ack names one frame. */
  nextSeq(): number;
  /** A frame to every member with an open link of ours; a frame to one of them. */
  sendAll(frame: GossipFrame): void;
  sendTo(name: string, frame: GossipFrame): void;
  /** An event for the election (renewals, a new term wanted, a proof). */
  tell(event: ElectionEvent): void;
  log(msg: string): void;
}

/** A lease frame sent: its term's members, and who acked it. */
interface Sent {
  sentAt: number;
  members: readonly string[];
  acked: Set<string>;
  renewed: boolean;
}

/** A term this member heard. */
interface Heard {
  leader: string;
  members: string[];
  leaseMs: number;
  /** What the last frame asked this member to hold before giving the term up (memberHoldMs; null: never). */
  holdMs: number | null;
  lastHeardAt: number;
  givenUp: boolean;
  timer: unknown;
}

/** How many terms (heard, or our own) are remembered: older ones can no longer be the view's. */
const TERMS_KEPT = 8;
/** How often a proof that holds is told to the election again (with the key's silence grown). */
const PROOF_REPEAT_MS = 250;

export class ShortLeaseGossip {
  private ticker: unknown = null;
  private running = false;
  private view: ClusterView | null = null;
  /** Our own terms: their members, fixed at the first frame (a change makes a new term). */
  private readonly ownTerms = new Map<string, { members: string[] }>();
  private readonly sent = new Map<number, Sent>();
  private readonly heard = new Map<string, Heard>();
  /** Who gave which term up (by etcd lease), as their gave-up frames say. */
  private readonly gaveUp = new Map<string, Set<string>>();
  /** The leader key as this node has seen it unchanged since (steady ms). */
  private keySeen: { index: string; since: number } | null = null;
  private proofTimer: unknown = null;

  constructor(private readonly h: ShortLeaseHost) {}

  start(): void {
    if (this.running || this.h.leaseMs() === null) return;
    this.running = true;
    this.tick();
  }

  stop(): void {
    this.running = false;
    if (this.ticker !== null) this.h.clock.clearTimeout(this.ticker);
    if (this.proofTimer !== null) this.h.clock.clearTimeout(this.proofTimer);
    this.ticker = this.proofTimer = null;
    for (const t of this.heard.values()) if (t.timer !== null) this.h.clock.clearTimeout(t.timer);
  }

  /** A new view: the key's revision watched for silence, our term's members compared, proofs judged. */
  follow(view: ClusterView): void {
    this.view = view;
    const index = view.leader?.index ?? null;
    if (index === null) this.keySeen = null;
    else if (this.keySeen?.index !== index) this.keySeen = { index, since: this.now() };
    if (!this.running) return;
    this.leadNewTerm();
    this.checkOwnTerm();
    this.judge();
  }

  /**
   * We may have just begun leading a term (the view shows our key on a new lease, and we lead):
   * its first lease frame goes out now, not up to a frame interval later — the acquisition's
   * renewal counts from its start, and with a slow etcd little of the lease may be left by then.
   */
  leadNewTerm(): void {
    const leaseMs = this.h.leaseMs();
    const session = this.view?.leader?.session;
    if (!this.running || leaseMs === null || !session || this.ownTerms.has(session)) return;
    this.sendLeaseFrame(leaseMs);
  }

  /** The watchdog here was armed or changed: as the leader, a lease frame now that says so. */
  watchdogChanged(): void {
    const leaseMs = this.h.leaseMs();
    if (this.running && leaseMs !== null) this.sendLeaseFrame(leaseMs);
  }

  /** A link of ours opened: our give-ups of terms still in sight go to that member too. */
  linkOpened(name: string): void {
    if (!this.running) return;
    for (const [lease, t] of this.heard)
      if (t.givenUp) this.h.sendTo(name, this.gaveUpFrame(t.leader, lease));
  }

  /** A lease frame from `from`: whether to ack it (never once its term is given up). */
  leaseFrame(from: string, f: LeaseFrame): boolean {
    if (!this.running) return false;
    const now = this.now();
    const t = this.heard.get(f.lease);
    const decision = ackOrGiveUp(t && t.leader === from ? t : null, now);
    if (decision === 'given-up') return false;
    if (decision === 'give-up') {
      this.giveUp(f.lease);
      return false;
    }
    if (t && t.timer !== null) this.h.clock.clearTimeout(t.timer);
    const heard: Heard = {
      leader: from,
      members: [...f.members],
      leaseMs: f.leaseMs,
      holdMs: memberHoldMs(f.leaseMs, f.watchdogMs),
      lastHeardAt: now,
      givenUp: false,
      timer: null,
    };
    if (heard.holdMs !== null)
      heard.timer = this.h.clock.setTimeout(() => this.giveUp(f.lease), giveUpAfterMs(heard.holdMs));
    this.heard.delete(f.lease);
    this.heard.set(f.lease, heard);
    this.trim(this.heard, (old) => old.timer !== null && this.h.clock.clearTimeout(old.timer));
    return true;
  }

  /** `from` acked our lease frame `seq`: a renewal once a majority of the term's members have. */
  ack(from: string, seq: number): void {
    const s = this.sent.get(seq);
    if (!s || s.renewed) return;
    s.acked.add(from);
    this.renewIfMajority(seq, s);
  }

  /** `from` gave a term up. */
  gaveUpReceived(from: string, f: GaveUpFrame): void {
    if (!this.running) return;
    this.noteGaveUp(f.lease, from);
    this.checkOwnTerm();
    this.judge();
  }

  private gaveUpFrame(leader: string, lease: string): GaveUpFrame {
    return {
      v: GOSSIP_VERSION,
      k: 'gave-up',
      scope: this.h.scope(),
      from: this.h.me(),
      seq: this.h.nextSeq(),
      leader,
      lease,
    };
  }

  private noteGaveUp(lease: string, who: string): void {
    const set = this.gaveUp.get(lease) ?? new Set<string>();
    set.add(who);
    this.gaveUp.delete(lease);
    this.gaveUp.set(lease, set);
    this.trim(this.gaveUp);
  }

  private now(): number {
    return monotonicNow(this.h.clock);
  }

  private tick(): void {
    this.ticker = null;
    if (!this.running) return;
    const leaseMs = this.h.leaseMs()!;
    this.sendLeaseFrame(leaseMs);
    this.checkOwnTerm();
    this.repeatGiveUp();
    this.ticker = this.h.clock.setTimeout(() => this.tick(), leaseFrameIntervalMs(leaseMs));
  }

  /** As the leader of a term: one lease frame to every member, counted as acked by ourselves. */
  private sendLeaseFrame(leaseMs: number): void {
    const term = this.ownTerm();
    if (!term) return;
    const seq = this.h.nextSeq();
    const s: Sent = {
      sentAt: this.now(),
      members: term.members,
      acked: new Set([this.h.me()]),
      renewed: false,
    };
    this.sent.set(seq, s);
    this.trim(this.sent, undefined, 16);
    this.h.sendAll({
      v: GOSSIP_VERSION,
      k: 'lease',
      scope: this.h.scope(),
      from: this.h.me(),
      seq,
      lease: term.lease,
      members: term.members,
      leaseMs,
      watchdogMs: this.h.watchdogMs(),
    });
    // A term of one: the leader's own ack is the majority (and no one can prove it gone early).
    this.renewIfMajority(seq, s);
  }

  /** A majority of the members the frame named (its term's) acked it: the lease runs from its sending. */
  private renewIfMajority(seq: number, s: Sent): void {
    if (!this.h.leading() || !isMajority(s.members, s.acked)) return;
    s.renewed = true;
    // Older frames renewed late prove less than this one: forgotten.
    for (const k of this.sent.keys()) if (k < seq) this.sent.delete(k);
    this.h.tell({ type: 'SHORT_LEASE_RENEWED', ageMs: this.now() - s.sentAt, sentAt: s.sentAt });
  }

  /** Our current term, when we lead: the view's key is ours, on a lease (the term's name). */
  private ownTerm(): { lease: string; members: string[] } | null {
    const leader = this.view?.leader;
    if (!this.h.leading() || !leader || leader.name !== this.h.me() || !leader.session) return null;
    let own = this.ownTerms.get(leader.session);
    if (!own) {
      own = { members: this.memberNames() };
      this.ownTerms.set(leader.session, own);
      this.trim(this.ownTerms);
    }
    return { lease: leader.session, members: own.members };
  }

  private memberNames(): string[] {
    const names = new Set((this.view?.members ?? []).map((m) => m.name));
    names.add(this.h.me());
    return [...names].sort();
  }

  /**
   * Our term needs to change — the view's members are no longer its members, or one of them gave
   * it up (it acks it no more; a new term it hears anew): the election is asked for a new lease,
   * and asked again every frame interval until the term has changed (a request can meet a refresh
   * already under way, or a lost lock and a reclaim onto the same lease).
   */
  private checkOwnTerm(): void {
    const term = this.ownTerm();
    if (!term) return;
    const gaveUp = this.gaveUp.get(term.lease);
    const changed = term.members.join('\n') !== this.memberNames().join('\n');
    if (changed || term.members.some((m) => m !== this.h.me() && gaveUp?.has(m)))
      this.h.tell({ type: 'SHORT_LEASE_NEW_TERM' });
  }

  /**
   * The view's leader term, given up here: said again every frame interval while the view shows
   * it (a frame lost in a partition must not leave the leader or a candidate without it).
   */
  private repeatGiveUp(): void {
    const leader = this.view?.leader;
    const t = leader?.session ? this.heard.get(leader.session) : undefined;
    if (leader?.session && t?.givenUp && t.leader === leader.name)
      this.h.sendAll(this.gaveUpFrame(t.leader, leader.session));
  }

  /** Nothing heard of the term for W: given up for good, and everyone told. */
  private giveUp(lease: string): void {
    const t = this.heard.get(lease);
    if (!t || t.givenUp) return;
    t.givenUp = true;
    t.timer = null;
    this.h.log(
      `fast failover: gave up ${t.leader}'s term (lease ${lease}): nothing heard for ${giveUpAfterMs(t.holdMs ?? t.leaseMs)} ms`,
    );
    this.h.sendAll(this.gaveUpFrame(t.leader, lease));
    this.noteGaveUp(lease, this.h.me());
    this.judge();
  }

  /**
   * What is known about the view's leader put together: when enough of its term's members gave
   * it up, the election hears the proof (and again every 250 ms while it holds, the key's silence
   * grown), and judges both halves itself.
   */
  private judge(): void {
    if (this.proofTimer !== null) this.h.clock.clearTimeout(this.proofTimer);
    this.proofTimer = null;
    const proof = this.proof();
    if (!proof || !gossipHalfHolds(proof)) return;
    this.h.tell({ type: 'LEADER_GIVEN_UP', proof });
    this.proofTimer = this.h.clock.setTimeout(() => this.judge(), PROOF_REPEAT_MS);
  }

  private proof(): StaleLeaderProof | null {
    const leader = this.view?.leader;
    if (!leader?.session || leader.name === this.h.me() || !this.keySeen) return null;
    const t = this.heard.get(leader.session);
    if (!t || t.leader !== leader.name) return null;
    return {
      term: { leader: leader.name, lease: leader.session },
      members: t.members,
      gaveUp: [...(this.gaveUp.get(leader.session) ?? [])],
      leaseMs: t.leaseMs,
      index: this.keySeen.index,
      keyUnchangedForMs: this.now() - this.keySeen.since,
    };
  }

  /** Keeps the newest `max` entries of a map kept in insertion order. */
  private trim<K, V>(map: Map<K, V>, drop?: (v: V) => unknown, max = TERMS_KEPT): void {
    for (const [k, v] of map) {
      if (map.size <= max) return;
      map.delete(k);
      drop?.(v);
    }
  }
}
