/**
 * "Who would take over if the leader died now?" — answered by the election's own rule:
 * `judgeHealthiest` is asked for every other member, from that member's point of view, on the
 * cluster view as it would be the moment the leader key is gone, with the leader not answering.
 * The plan therefore says what the race would do, not an estimate of it, and says why each
 * member would not race. The bound on lost data is the winner's lag behind the leader (0 with
 * synchronous_mode: only a synchronous standby may win, and it has every acknowledged commit).
 */
import {
  type EligibilitySettings,
  judgeHealthiest,
  type LocalFacts,
  type PeerStatus,
} from './eligibility.ts';
import type { ClusterView } from './view.ts';

export interface MemberOutlook {
  name: string;
  role: 'leader' | 'replica';
  /** Would race for the lock if the leader died now (the first of these to take it wins). */
  takesOver: boolean;
  /** Why it would, or why not (judgeHealthiest's reason; the leader's: it is the one that died). */
  reason: string;
  walPosition: number | null;
  timeline: number | null;
  /** Bytes behind the leader's position (null: unknown). */
  lagBytes: number | null;
}

export interface FailoverPlan {
  leader: string | null;
  /** Where the leader's WAL is (its answer now, else the last /status). */
  leaderPosition: number | null;
  /** The members the election would let take the lock. */
  candidates: string[];
  /**
   * Bytes of WAL the new leader could lack, the worst candidate's lag: 0 with synchronous_mode
   * (acknowledged commits are on every candidate); null when nobody would take over.
   */
  maxDataLossBytes: number | null;
  synchronousMode: boolean;
  paused: boolean;
  members: MemberOutlook[];
}

/**
 * The plan from `view` and every member's status as it answers now (the leader's included; a
 * member missing from `statuses` did not answer).
 */
export function failoverPlan(
  view: ClusterView,
  statuses: readonly PeerStatus[],
  settings: EligibilitySettings,
): FailoverPlan {
  const leader = view.leader?.name ?? null;
  const statusOf = (name: string) => statuses.find((s) => s.name === name && s.reachable) ?? null;
  const leaderStatus = leader === null ? null : statusOf(leader);
  const leaderPosition = leaderStatus?.walPosition ?? view.status?.optime ?? null;
  // The view at the moment the lock expires, and the peers as the race would find them.
  const orphaned: ClusterView = { ...view, leader: null };
  const asked = (me: string): PeerStatus[] =>
    view.members
      .filter((m) => m.name !== me)
      .map((m) =>
        m.name === leader
          ? gone(m.name)
          : (statusOf(m.name) ?? gone(m.name, m.data.tags?.nofailover === true)),
      );

  const members: MemberOutlook[] = view.members.map((m) => {
    const s = statusOf(m.name);
    const walPosition = s?.walPosition ?? null;
    const lagBytes =
      leaderPosition !== null && walPosition !== null ? Math.max(0, leaderPosition - walPosition) : null;
    const base = { name: m.name, walPosition, timeline: s?.timeline ?? null, lagBytes };
    if (m.name === leader)
      return { ...base, role: 'leader', takesOver: false, reason: 'the leader that died' };
    if (!s) return { ...base, role: 'replica', takesOver: false, reason: 'not reachable' };
    const verdict = judgeHealthiest(orphaned, facts(s), asked(m.name), settings);
    return { ...base, role: 'replica', takesOver: verdict.healthiest, reason: verdict.reason };
  });

  const candidates = members.filter((m) => m.takesOver);
  const worstLag = candidates.reduce<number | null>(
    (worst, m) => (m.lagBytes === null || worst === null ? null : Math.max(worst, m.lagBytes)),
    0,
  );
  return {
    leader,
    leaderPosition,
    candidates: candidates.map((m) => m.name),
    maxDataLossBytes: candidates.length === 0 ? null : settings.synchronous_mode ? 0 : worstLag,
    synchronousMode: settings.synchronous_mode,
    paused: settings.paused === true,
    members,
  };
}

/** A member as the race sees one that answers: its PostgreSQL runs (it reported a WAL position). */
function facts(s: PeerStatus): LocalFacts {
  return {
    name: s.name,
    running: true,
    inRecovery: s.inRecovery,
    walPosition: s.walPosition,
    timeline: s.timeline,
    nofailover: s.nofailover,
    streaming: s.inRecovery,
  };
}

/** A member that does not answer (the dead leader, or one unreachable now). */
function gone(name: string, nofailover = false): PeerStatus {
  return {
    name,
    reachable: false,
    inRecovery: true,
    walPosition: null,
    timeline: null,
    nofailover,
    watchdogFailed: false,
  };
}
