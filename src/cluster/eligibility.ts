/**
 * Whether this node may race for the leader lock (Patroni's is_healthiest_node), as a pure
 * function returning the reason, so that the decision can be journaled and shown.
 */

import { activeFailover } from './failover.ts';
import { excludedByFailsafe, noPrimaryFailsafeKeeps } from './failsafe.ts';
import { failoverPriorityOf } from './tags.ts';
import { type ClusterView, clusterTimeline, memberByName } from './view.ts';

/** What a node knows about its own PostgreSQL when it considers racing. */
export interface LocalFacts {
  name: string;
  running: boolean;
  inRecovery: boolean;
  /** Primary: current LSN; replica: max(received, replayed). */
  walPosition: number | null;
  timeline: number | null;
  nofailover: boolean;
  /** Patroni 3.2's failover_priority (absent: 1): among equally advanced members, the higher races. */
  failoverPriority?: number;
  /** A replica's WAL receiver is connected to its upstream. */
  streaming: boolean;
  /** A watchdog is required and cannot be used here (Patroni's watchdog_failed): never races. */
  watchdogFailed?: boolean;
}

/** What a peer answered to GET /patroni (or did not). */
export interface PeerStatus {
  name: string;
  reachable: boolean;
  inRecovery: boolean;
  walPosition: number | null;
  timeline: number | null;
  nofailover: boolean;
  watchdogFailed: boolean;
  /** A replica streaming from its upstream, as it says (false when it does not say). */
  streaming?: boolean;
  /** How the race learned it (the leader race's probe): over gossip or GET /patroni. */
  via?: 'gossip' | 'rest';
}

export interface EligibilitySettings {
  maximum_lag_on_failover: number;
  /** Dynamic `pause`: maintenance mode. */
  paused?: boolean;
  check_timeline: boolean;
  synchronous_mode: boolean;
  failsafe_mode?: boolean;
}

export interface Verdict {
  healthiest: boolean;
  reason: string;
}

/**
 * Why a member cannot take over, null when it can (Patroni's failover_limitation): the one
 * fitness test, for the election, the leader's switchover check and the REST API alike.
 */
export function failoverLimitation(p: PeerStatus): string | null {
  if (!p.reachable) return 'not reachable';
  if (p.nofailover) return 'not allowed to promote';
  if (p.watchdogFailed) return 'not watchdog capable';
  return null;
}

/**
 * A replica that may be promoted: reachable, in recovery, no failover limitation, and on the
 * cluster's timeline (`timeline`, its newest known; 0: unknown or not checked) or streaming
 * towards it. One on an older timeline that does not stream has WAL the cluster's history left
 * behind, or lacks the switch to it (an old primary not yet rejoined, a standby between two
 * upstreams): promoting it would fork a second history of the next number and lose the leader's
 * writes since (sweep seed 369). A streaming one has merely not replayed the switch yet (a
 * promotion writes little on its new timeline at first), and a leader that stops sends a
 * connected standby all of its WAL. The timeline is checked with `check_timeline` (pgwarden's
 * default; off, as in Patroni, the operator takes the risk): see timelineChecked.
 */
export function fitToTakeOver(p: PeerStatus, timeline: number): boolean {
  return p.inRecovery && failoverLimitation(p) === null && timelineLimitation(p, timeline) === null;
}

/** Why a member's timeline keeps it from taking over (see fitToTakeOver), null when it does not. */
export function timelineLimitation(p: PeerStatus, timeline: number): string | null {
  if (p.streaming === true || !behindTimeline(p.timeline, timeline)) return null;
  return `on timeline ${p.timeline}, behind the cluster's ${timeline}, and not streaming`;
}

/**
 * The leader's switchover check (Patroni's is_failover_possible): some member it probed is fit to
 * take over (fitToTakeOver), against the leader's own timeline or the newest the view shows.
 */
export function someoneFitToTakeOver(
  peers: readonly PeerStatus[],
  view: ClusterView,
  ownTimeline: number | null,
  checkTimeline: boolean,
): boolean {
  const timeline = timelineChecked(Math.max(newestTimeline(view, []), ownTimeline ?? 0), checkTimeline);
  return peers.some((p) => fitToTakeOver(p, timeline));
}

/** The cluster's timeline a candidate must be on (or stream towards); 0: none, check_timeline is off. */
export function timelineChecked(timeline: number, checkTimeline: boolean): number {
  return checkTimeline ? timeline : 0;
}

/** On a timeline older than the cluster's newest (either unknown: not behind). */
function behindTimeline(mine: number | null, cluster: number): boolean {
  return mine !== null && cluster > 0 && mine < cluster;
}

const yes = (reason: string): Verdict => ({ healthiest: true, reason });
const no = (reason: string): Verdict => ({ healthiest: false, reason });

/**
 * The newest timeline anybody shows: /history, the member keys, the peers just probed (the
 * history of a promotion whose checkpoint failed is never written).
 */
export function newestTimeline(view: ClusterView, peers: readonly PeerStatus[]): number {
  let timeline = clusterTimeline(view);
  for (const m of view.members) timeline = Math.max(timeline, m.data.timeline ?? 0);
  for (const p of peers) if (p.reachable) timeline = Math.max(timeline, p.timeline ?? 0);
  return timeline;
}

/**
 * Patroni 3.2's failover_priority: a peer exactly as far along as this node, with a higher
 * priority (its member key's tags), wins the race — unless it is the former leader (in
 * synchronous mode /sync's), which is the one being replaced. Null: no preference for it.
 */
function preferredPeer(
  view: ClusterView,
  me: LocalFacts,
  peer: PeerStatus,
  syncMembers: Set<string> | null,
  settings: EligibilitySettings,
): string | null {
  // A peer that may never take over (failsafe mode, not in /failsafe) is no one to wait for.
  if (excludedByFailsafe(view, peer.name, settings)) return null;
  const mine = me.failoverPriority ?? 1;
  const theirs = failoverPriorityOf(memberByName(view, peer.name)?.data.tags);
  if ((peer.walPosition ?? 0) !== (me.walPosition ?? 0) || theirs <= mine) return null;
  const formerLeader = syncMembers !== null ? view.sync?.leader : view.leader?.name;
  if (peer.name === formerLeader) return null;
  return `${peer.name} has equally tolerable WAL position and priority ${theirs}, while this node has priority ${mine}`;
}

/** The members /sync lets take over with synchronous_mode (its leader and standbys); null without it. */
function synchronousMembers(view: ClusterView, settings: EligibilitySettings): Set<string> | null {
  return settings.synchronous_mode && view.sync?.leader
    ? new Set([view.sync.leader, ...view.sync.sync_standby])
    : null;
}

/**
 * The switchover or failover requested, unless it is a switchover (it names the leader it comes
 * from) to a member /sync does not name: one that is not may lack acknowledged commits. A
 * failover (no leader named) is the operator's call, as in Patroni.
 */
function honouredRequest(view: ClusterView, syncMembers: Set<string> | null) {
  const requested = activeFailover(view);
  return requested?.leader && requested.member && syncMembers !== null && !syncMembers.has(requested.member)
    ? null
    : requested;
}

/**
 * A running replica named by the switchover or failover requested, which it may take: it need not
 * ask anyone, the request already chose it (judgeHealthiest answers yes for the same reason).
 */
export function isRequestedCandidate(
  view: ClusterView,
  me: LocalFacts,
  settings: EligibilitySettings,
): boolean {
  return (
    me.running &&
    me.inRecovery &&
    !me.nofailover &&
    // On the cluster's timeline, or streaming towards it: see fitToTakeOver.
    (me.streaming ||
      !behindTimeline(me.timeline, timelineChecked(newestTimeline(view, []), settings.check_timeline))) &&
    // Failsafe mode: not even an operator's request makes a member the leader could not have asked
    // to confirm it (it may still be primary, kept by the members it did ask).
    !excludedByFailsafe(view, me.name, settings) &&
    honouredRequest(view, synchronousMembers(view, settings))?.member === me.name
  );
}

export function judgeHealthiest(
  view: ClusterView,
  me: LocalFacts,
  peers: readonly PeerStatus[],
  settings: EligibilitySettings,
): Verdict {
  if (!me.running) return no('postgres is not running');
  const timeline = newestTimeline(view, peers);
  // With synchronous_mode, only the last synchronous leader and the standbys /sync names may
  // take over (Patroni's rule): the others are neither candidates nor rivals.
  const syncMembers = synchronousMembers(view, settings);
  if (!me.inRecovery) {
    // A running primary is the natural holder, unless it is a stale one: from an older timeline,
    // or one /sync no longer counts (another leader has acknowledged commits since).
    if (me.timeline !== null && timeline > 0 && me.timeline < timeline) {
      return no(`running as primary on timeline ${me.timeline}, older than the cluster's ${timeline}`);
    }
    if (syncMembers !== null && !syncMembers.has(me.name)) {
      return no(`running as primary, but /sync names ${view.sync!.leader} as the synchronous leader`);
    }
    return yes('postgres is running as primary');
  }
  // Maintenance mode: nothing fails over by itself (a named switchover candidate still may).
  const requested = activeFailover(view);
  if (settings.paused && requested?.member !== me.name) return no('the cluster is paused');
  if (me.nofailover) return no('tagged nofailover');
  if (me.watchdogFailed) return no('watchdog device is not usable');

  const checked = timelineChecked(timeline, settings.check_timeline);
  const mayTakeOver = (p: PeerStatus) =>
    fitToTakeOver(p, checked) && (syncMembers === null || syncMembers.has(p.name));

  // A requested switchover or failover names who should win, as long as that member is alive.
  const request = honouredRequest(view, syncMembers);
  if (request === null && requested?.member === me.name) {
    return no('switchover candidate, but not a synchronous standby');
  }
  if (requested?.member === me.name && !me.streaming && behindTimeline(me.timeline, checked)) {
    return no(`switchover candidate, but on timeline ${me.timeline}, behind the cluster's ${timeline}`);
  }
  if (isRequestedCandidate(view, me, settings)) return yes('I am the switchover candidate');
  if (request?.member) {
    const candidate = peers.find((p) => p.name === request.member);
    // Not a candidate that may never take over (failsafe mode, not named in /failsafe): waiting
    // for it would leave the cluster without a leader for good.
    if (
      candidate &&
      fitToTakeOver(candidate, checked) &&
      !excludedByFailsafe(view, candidate.name, settings)
    ) {
      return no(`switchover candidate ${request.member} takes over`);
    }
  }
  if (request?.leader === me.name && peers.some(mayTakeOver)) {
    return no('I am the switchover source; another member takes over');
  }

  // Failsafe mode: a member the leader could not have asked to confirm it never takes over.
  if (excludedByFailsafe(view, me.name, settings) && !noPrimaryFailsafeKeeps(view, me.name, peers))
    return no('not named in /failsafe');
  if (syncMembers !== null && !syncMembers.has(me.name)) return no('not a synchronous standby');

  const myWal = me.walPosition ?? 0;
  const optime = view.status?.optime ?? 0;
  if (optime > 0 && optime - myWal > settings.maximum_lag_on_failover) {
    return no(
      `lag ${optime - myWal} bytes behind the last leader position exceeds maximum_lag_on_failover ${settings.maximum_lag_on_failover}`,
    );
  }
  if (settings.check_timeline && me.timeline !== null && me.timeline < timeline) {
    return no(`timeline ${me.timeline} is older than the cluster's ${timeline}`);
  }

  for (const peer of peers) {
    if (!peer.reachable || peer.name === me.name) continue;
    if (!peer.inRecovery) return no(`primary ${peer.name} is still alive`);
    if (!fitToTakeOver(peer, timeline)) continue;
    if (syncMembers !== null && !syncMembers.has(peer.name)) continue;
    // Positions compare only on one timeline: WAL a peer wrote on an older timeline past the point
    // where it was left is not the cluster's (an old primary's last writes), and a peer on a newer
    // timeline has what this one lacks, whatever the numbers say.
    const ordered = comparePositions(me, peer);
    if (ordered === 'peer-newer-timeline') {
      return no(`${peer.name} is on a newer timeline (${peer.timeline} > ${me.timeline})`);
    }
    if (ordered === 'peer-older-timeline') continue;
    // With synchronous_mode the last synchronous leader (a switchover's source) may be ahead of
    // us by WAL no client saw committed: it does not keep its synchronous standby from taking
    // over (Patroni's rule), or both would wait for the other.
    if (syncMembers !== null && peer.name === view.sync?.leader) continue;
    if ((peer.walPosition ?? 0) > myWal) {
      return no(`${peer.name} is ahead (${peer.walPosition} > ${myWal})`);
    }
    const preferred = preferredPeer(view, me, peer, syncMembers, settings);
    if (preferred !== null) return no(preferred);
  }
  return yes('no reachable member is ahead of me');
}

/** How a peer's WAL relates to ours before positions are compared. */
function comparePositions(
  me: Pick<LocalFacts, 'timeline'>,
  peer: Pick<PeerStatus, 'timeline'>,
): 'peer-newer-timeline' | 'peer-older-timeline' | 'same-timeline' {
  if (me.timeline === null || peer.timeline === null) return 'same-timeline';
  if (peer.timeline > me.timeline) return 'peer-newer-timeline';
  if (peer.timeline < me.timeline) return 'peer-older-timeline';
  return 'same-timeline';
}
