/** The election's input, context, events and what its I/O actors answer. */
import type { LocalFacts, Verdict } from '../../cluster/eligibility.ts';
import type { FenceTarget } from '../../cluster/orphans.ts';
import type { StaleLeaderProof } from '../../cluster/short-lease.ts';
import type { ClusterView } from '../../cluster/view.ts';

export interface ElectionSettings {
  ttl: number;
  /** Maintenance mode: no automatic failover. */
  paused?: boolean;
  loop_wait: number;
  retry_timeout: number;
  maximum_lag_on_failover: number;
  check_timeline: boolean;
  synchronous_mode: boolean;
  /** Patroni 3.0's failsafe mode (see src/cluster/failsafe.ts). */
  failsafe_mode?: boolean;
  /**
   * This node's REST address (`http://host:port/patroni`, from restapi): /failsafe names it when
   * its member key is missing.
   */
  api_url?: string;
  /** The short lease (ms) of fast failover, null or absent: off (src/cluster/short-lease.ts). */
  short_lease_ms?: number | null;
}

export interface ElectionInput {
  name: string;
  settings: ElectionSettings;
  /** True when the node already holds the key (it just bootstrapped the cluster). */
  holdsLock: boolean;
  /** With holdsLock: ms since the lease was last refreshed (see AcquireResult.leaseAgeMs). */
  leaseAgeMs?: number;
  view?: ClusterView;
  /** The address book this node started with (its data directory's): see knownServersOf. */
  knownServers?: readonly FenceTarget[];
}

/** Our lease as the DCS client knows it (see AcquireResult). */
export interface LeaseReading {
  leaseAgeMs: number;
  leaseTtlSeconds: number;
  /** The steady clock (ms) when that grant or keepalive was sent: which of two renewals is newer. */
  sentAt?: number;
  /**
   * The last write of our leader key (the acquisition's): ms since it was sent, and when (steady).
   * The short lease runs from there, not from the lease's grant before it: with etcd slow, an
   * acquisition of two calls took the whole short lease and a new leader demoted at once, again
   * and again (the simulator's seed 77, etcd answering in 1.2 s).
   */
  keyWriteAgeMs?: number;
  keyWriteSentAt?: number;
}

export interface AcquireResult {
  won: boolean;
  /**
   * ms since the lease the key now rides on was last granted or kept alive (counted from when
   * that request was sent): etcd expires the key ttl after that, not ttl after the acquisition.
   */
  leaseAgeMs: number;
  /** The ttl (s) of that lease: after a change of ttl it may not be the settings' yet. */
  leaseTtlSeconds: number;
  /** The steady clock (ms) when that grant or keepalive was sent. */
  sentAt?: number;
}

export interface RefreshResult {
  ok: boolean;
  /** How long the refresh took, so that the deadline counts from its start. */
  elapsedMs: number;
  /** The ttl (s) of the lease the key now rides on (see AcquireResult). */
  leaseTtlSeconds: number;
  /**
   * The steady clock (ms) when the refresh's write of our key was sent (when it began, if it wrote
   * none): which of two short-lease renewals is newer; and ms since then.
   */
  sentAt?: number;
  writeAgeMs?: number;
}

/** What the leader heard when it asked the members /failsafe names to confirm it. */
export interface FailsafeConfirmation {
  /** Every member named there accepted. */
  confirmed: boolean;
  /** How long the asking took, so that the trust counts from when it began. */
  elapsedMs: number;
}

export type ElectionEvent =
  | { type: 'CLUSTER'; view: ClusterView }
  /**
   * etcd stopped answering the watch: the view stays as it last was, stale, until the next
   * CLUSTER (the watch delivers none until it has read the keys afresh).
   */
  | { type: 'DCS_UNAVAILABLE' }
  /**
   * A leader asked this node to confirm it (POST /failsafe or gossip, failsafe mode): accepted
   * unless this node runs as a primary or is taking the lock, and then it does not race for a ttl.
   */
  | { type: 'FAILSAFE_ACCEPTED'; leader: string }
  /** A ttl has passed since the last acceptance. */
  | { type: 'FAILSAFE_EXPIRED' }
  | { type: 'FACTS'; facts: LocalFacts }
  | { type: 'SETTINGS'; settings: ElectionSettings }
  | { type: 'RELEASE'; lastLsn: number | null }
  /** Shutdown begins: stop racing, keep refreshing a held lock until RELEASE. */
  | { type: 'FREEZE' }
  | { type: 'REFRESH_NOW' }
  /**
   * The node's watchdog is armed, and the lock may be trusted this long after a keepalive (its
   * timeout less the loop_wait it was armed for; null: not armed); `reopened`: just opened or
   * given a new timeout, which restarts its countdown as a keepalive does.
   */
  | { type: 'WATCHDOG'; windowMs: number | null; reopened: boolean }
  /** The armed watchdog's window since the last keepalive is over: demote before it fires. */
  | { type: 'WATCHDOG_DEADLINE' }
  /** A majority of its term's members acked a lease frame sent `ageMs` ago (src/cluster/short-lease.ts). */
  | { type: 'SHORT_LEASE_RENEWED'; ageMs: number; sentAt: number }
  /** The short lease, less the fencing budget, is over: stop writing now. */
  | { type: 'SHORT_LEASE_END' }
  /** Gossip has not renewed the short lease for half of it: renew through etcd. */
  | { type: 'SHORT_LEASE_LOW' }
  /** The short lease's term must change (its members changed, or some gave it up): a new lease at the next refresh. */
  | { type: 'SHORT_LEASE_NEW_TERM' }
  /** Enough members gave the leader up, as gossip tells it: remove its key if the proof holds. */
  | { type: 'LEADER_GIVEN_UP'; proof: StaleLeaderProof }
  /** The refresh interval since the last refresh (or confirmation) is over: refresh the lock. */
  | { type: 'REFRESH_DUE' };

/** Events the election sends to its parent. */
export type ElectionOutput =
  /** `fenceTargets`: every other server known, fenced before we promote (an orphan primary among them). */
  | { type: 'LEADERSHIP_ACQUIRED'; fenceTargets: readonly FenceTarget[] }
  | { type: 'LEADERSHIP_LOST'; reason: string }
  | { type: 'LEADERSHIP_RELEASED' }
  | { type: 'ELECTION_VERDICT'; verdict: Verdict }
  /** Failsafe mode became active (the leader kept by its members' confirmation, a replica holding back) or not. */
  | { type: 'FAILSAFE_ACTIVE'; active: boolean };

export interface ElectionContext {
  name: string;
  settings: ElectionSettings;
  view: ClusterView;
  /** The view may be stale: etcd stopped answering since it came (DCS_UNAVAILABLE). */
  viewStale: boolean;
  facts: LocalFacts | null;
  /** ms left of the lease as of the end of the last successful refresh. */
  leaseLeftMs: number;
  /** The ttl (s) of the lease the held key rides on (0: none held yet). */
  leaseTtlSeconds: number;
  lastVerdict: Verdict | null;
  holdsLockAtStart: boolean;
  leaseAgeAtStartMs: number;
  pendingRelease: { lastLsn: number | null } | null;
  frozen: boolean;
  /**
   * The view a race began on: its probe asks the members of this one, not of a view that came
   * while our own position was sampled (a member key expiring meanwhile changes whom to ask).
   */
  probeView: ClusterView | null;
  /** The leader this node accepted in failsafe mode, until a ttl after (null: none). */
  failsafeLeader: string | null;
  /** How many confirmations it accepted (the runtime reads whether its request was). */
  failsafeAccepted: number;
  /** As the leader: kept by the members' confirmation since the DCS stopped answering. */
  onFailsafe: boolean;
  /** The /failsafe topology last written (JSON), so that a view not yet showing it is not written again. */
  failsafeWritten: string | null;
  /** Every other server whose address we have known: fenced before we promote (src/cluster/orphans.ts). */
  knownServers: readonly FenceTarget[];
  /** How long after a keepalive the node's armed watchdog lets the lock be trusted (null: none armed). */
  watchdogWindowMs: number | null;
  /** The proof this follower acts on while it removes a stale leader's key (null otherwise). */
  staleLeader: StaleLeaderProof | null;
  /** As the leader: the next refresh moves the key onto a new lease (a new short-lease term). */
  newTermWanted: boolean;
  /** As the leader: the steady time (ms) the newest short-lease renewal was sent (null: none known). */
  shortLeaseSentAt: number | null;
}
