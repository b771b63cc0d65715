/** What the gossip hub needs from its agent, and the counters it keeps for /metrics. */
import type { Clock } from '../../actors/clock.ts';
import type { PeerStatus } from '../../cluster/eligibility.ts';
import type { NodeReport } from '../../cluster/report.ts';
import type { Member } from '../../cluster/view.ts';
import type { ElectionEvent } from '../../machines/election/index.ts';
import type { DropReason } from '../../transport/gossip-frame.ts';
import type { GossipDialer } from '../../transport/gossip-link.ts';

export interface GossipHost {
  clock: Clock;
  /** This node's name and scope. */
  me(): string;
  scope(): string;
  /** How often a status frame goes out (ms). */
  intervalMs(): number;
  /** This node as GET /patroni would show it now. */
  report(): NodeReport;
  /** A PostgreSQL sample at most a second old (PostgresSampler.fresh): an ask is answered after it. */
  freshStatus(): Promise<void>;
  dialer: GossipDialer;
  /** GET /patroni of a member, giving up after `timeoutMs` (the race's fallback). */
  restProbe(member: Member, timeoutMs: number): Promise<PeerStatus>;
  /** What POST /failsafe from leader `from` would answer here (see runtime/failsafe.ts). */
  answerFailsafe(from: string): { status: number; text: string };
  /** Fast failover's short lease (ms), null when off (see short-lease.ts). */
  shortLeaseMs(): number | null;
  /** The timeout (ms) of the watchdog armed here, null: none armed. */
  armedWatchdogMs(): number | null;
  /** An event for the election (fast failover's renewals and proofs). */
  tellElection(event: ElectionEvent): void;
  log(msg: string): void;
}

/** Counters for /metrics. */
export interface GossipCounters {
  framesSent: number;
  framesReceived: number;
  dropped: Record<DropReason, number>;
}
