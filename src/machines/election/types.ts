/** The election's input, context, events and what its I/O actors answer. */
import type { LocalFacts, Verdict } from '../../cluster/eligibility.ts';
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
}

export interface ElectionInput {
  name: string;
  settings: ElectionSettings;
  /** True when the node already holds the key (it just bootstrapped the cluster). */
  holdsLock: boolean;
  /** With holdsLock: ms since the lease was last refreshed (see AcquireResult.leaseAgeMs). */
  leaseAgeMs?: number;
  view?: ClusterView;
}

/** Our lease as the DCS client knows it (see AcquireResult). */
export interface LeaseReading {
  leaseAgeMs: number;
  leaseTtlSeconds: number;
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
}

export interface RefreshResult {
  ok: boolean;
  /** How long the refresh took, so that the deadline counts from its start. */
  elapsedMs: number;
  /** The ttl (s) of the lease the key now rides on (see AcquireResult). */
  leaseTtlSeconds: number;
}

export type ElectionEvent =
  | { type: 'CLUSTER'; view: ClusterView }
  | { type: 'FACTS'; facts: LocalFacts }
  | { type: 'SETTINGS'; settings: ElectionSettings }
  | { type: 'RELEASE'; lastLsn: number | null }
  /** Shutdown begins: stop racing, keep refreshing a held lock until RELEASE. */
  | { type: 'FREEZE' }
  | { type: 'REFRESH_NOW' };

/** Events the election sends to its parent. */
export type ElectionOutput =
  | { type: 'LEADERSHIP_ACQUIRED' }
  | { type: 'LEADERSHIP_LOST'; reason: string }
  | { type: 'LEADERSHIP_RELEASED' }
  | { type: 'ELECTION_VERDICT'; verdict: Verdict };

export interface ElectionContext {
  name: string;
  settings: ElectionSettings;
  view: ClusterView;
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
}
