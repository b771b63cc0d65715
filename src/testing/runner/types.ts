/**
 * What a seeded run is asked to do and what it answers: the options (seed, size, timings,
 * checks, a given schedule), the violations found, the run's statistics and its result with
 * the command that replays it. Shared by the runner, the shrinker, the parallel pool and
 * `pgwarden sim`.
 */
import type { ClientOutcome } from '../clients.ts';
import type { SimulatedCluster, SimulatedClusterOptions } from '../cluster/index.ts';
import type { StateCoverage } from '../coverage.ts';
import type { Invariant } from '../invariants/index.ts';
import type { ScheduleAction } from '../schedule/index.ts';

export interface RunOptions {
  seed: number;
  nodes?: number;
  steps?: number;
  /** Virtual ms per step (default 5000). */
  stepMs?: number;
  synchronousMode?: boolean;
  /** /config failsafe_mode (Patroni 3.0's failsafe mode). */
  failsafeMode?: boolean;
  /** Every node has a watchdog device, in the YAML's default (automatic) mode (src/testing/cluster/watchdog.ts). */
  watchdog?: boolean;
  /** Fast failover on every node with the default short lease (src/cluster/short-lease.ts), as by default; false: off. */
  fastFailover?: boolean;
  /** Dynamic check_timeline; unset: the default (on). Regressions found before it was on use false. */
  checkTimeline?: boolean;
  ttl?: number;
  /**
   * After healing, require that the cluster heals whole: every member streaming on the leader's
   * timeline (clusterNotHealed), not only a writable leader. On by default; false only for runs
   * that look at something else.
   */
  checkHeal?: boolean;
  /** More checks, run after every step (tests use this to prove the harness can fail). */
  extraInvariants?: Invariant[];
  /** Collects which machine states the run visits (shared across runs to cover a budget). */
  coverage?: Pick<StateCoverage, 'inspect'>;
  /** Play this schedule instead of the one the seed generates (replays, shrinking). */
  schedule?: ScheduleAction[];
  /** Every agent log line and every action played, with its virtual time. */
  log?: (line: string) => void;
  /** Called with the simulated cluster before the first step (debugging: its clock, its nodes). */
  onCluster?: (c: SimulatedCluster) => void;
  /** Keep a journal per node (`SimulatedCluster.journals`): what `pgwarden sim --journal DIR` writes and replay tests read. */
  journals?: boolean;
  /** Keep a journal per node and write it, once the run ends, to `<dir>/<seed>[-sync]-<node>.journal`. */
  journalDir?: string;
  /** Simulated PostgreSQL's options (tests plant old behaviours to prove an invariant can fail). */
  postgres?: SimulatedClusterOptions['postgres'];
}

export interface Violation {
  step: number;
  invariant: string;
  detail: string;
  /** Virtual ms since the cluster started. */
  at: number;
}

export interface RunStats {
  virtualMs: number;
  writes: number;
  acknowledged: number;
  /** Faults injected and operator requests sent. */
  faults: number;
  requests: number;
  /** How the operator requests were answered: `switchover 200` → count (`refused`: agent down). */
  answers: Record<string, number>;
  leaderChanges: number;
  /** Virtual ms the heal phase took to reach a writable leader (null: it did not). */
  healMs: number | null;
  /**
   * Virtual ms an orphan primary (its agent dead or frozen) accepted writes beside another
   * writable node, in all and the longest window (see singleWritableNode).
   */
  orphanWritableMs: number;
  orphanWritableLongestMs: number;
  /** Per client kind (leader, first-writable, sticky): how its writes ended. */
  clients: Record<string, Record<ClientOutcome, number>>;
  /**
   * Windows in which a node whose agent was dead or frozen still acknowledged writes while
   * another node did (no fencing): how many, and the longest, in virtual ms.
   */
  unfenced: { windows: number; longestMs: number };
}

export interface RunResult {
  ok: boolean;
  seed: number;
  options: Required<
    Omit<
      RunOptions,
      | 'extraInvariants'
      | 'coverage'
      | 'schedule'
      | 'log'
      | 'onCluster'
      | 'checkTimeline'
      | 'postgres'
      | 'journals'
      | 'journalDir'
    >
  > & {
    /** The schedule's text form when it was given rather than generated from the seed. */
    schedule: string | null;
  };
  violations: Violation[];
  /** What was played: the whole schedule, or up to the failing step. */
  schedule: ScheduleAction[];
  stats: RunStats;
  /** The command that replays this run. */
  replay: string;
}
