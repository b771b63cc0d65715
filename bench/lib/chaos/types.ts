/**
 * The records a chaos run keeps (bench/chaos.ts): every client attempt of the set workload, every
 * fault with its times, each node's role as the harness saw it, and the final read. The checker
 * (checker.ts) and the picture (timeline-svg.ts) read only these, so a saved run can be analysed
 * again without the cluster.
 *
 * Times are milliseconds since the run's start, from the monotonic clock (performance.now()).
 */

/** The agents (bench/lib/agents.ts): pgwarden's defaults, fast failover asked for or off, Patroni. */
import type { AgentKind } from '../agents.ts';

export type { AgentKind };

/** What the client knows about one INSERT: acknowledged, refused for sure, or not known. */
export type Outcome = 'ok' | 'fail' | 'unknown';

/**
 * One attempt to insert a unique id. `multi` clients connect as a libpq multi-host string with
 * `target_session_attrs=read-write` would (first writable node of the list); `direct` clients
 * hold one connection to one node each, as an application with a stale address does.
 */
export interface Attempt {
  id: number;
  client: string;
  group: 'multi' | 'direct';
  /** The node the connection went to (null: no connection was made). */
  node: string | null;
  start: number;
  end: number;
  outcome: Outcome;
  /** The writer's timeline, from the same statement as the INSERT (acknowledged attempts). */
  timeline?: number;
  /** The error's SQLSTATE or message (fail/unknown). */
  error?: string;
}

export type FaultKind =
  | 'kill-agent'
  | 'kill-postmaster'
  | 'kill-node'
  | 'freeze-node'
  | 'partition-leader-etcd'
  | 'partition-leader-peers'
  | 'isolate-leader'
  | 'isolate-replica'
  | 'kill-etcd-member'
  | 'etcd-majority-lost'
  | 'refusing-leader'
  | 'switchover'
  | 'restart'
  | 'patch-config';

export interface FaultRecord {
  /** 1, 2, … in the order the run did them. */
  seq: number;
  kind: FaultKind;
  /** Node or etcd member the fault was done to (null: the cluster as a whole). */
  target: string | null;
  /** What the target was when the fault began. */
  targetRole: 'leader' | 'replica' | 'etcd' | 'cluster';
  /** How long the fault was held before it was healed (ms, as drawn). */
  holdMs: number;
  /** Injected at; healed at (null: nothing to heal, e.g. a switchover); the cluster settled again at (null: it did not). */
  start: number;
  healed: number | null;
  settled: number | null;
  /** Details: how a frozen node ended (SIGCONT or kill), the switchover candidate, the PATCH body… */
  notes: Record<string, unknown>;
}

/** A node's role as its REST API reported it (down: no answer). */
export interface RoleSample {
  at: number;
  node: string;
  role: 'leader' | 'replica' | 'down' | 'other';
  timeline?: number;
}

export interface RunRecord {
  agent: AgentKind;
  seed: number;
  synchronous: boolean;
  /** bootstrap.dcs of the run. */
  dcs: Record<string, unknown>;
  nodes: string[];
  /** The exact fault list: a replay runs these instead of drawing. */
  plan: Array<{ kind: FaultKind; holdMs: number; pick: number; variant?: string }>;
  faults: FaultRecord[];
  attempts: Attempt[];
  roles: RoleSample[];
  /** Every id read back from the final leader after healing (null: no leader to read from). */
  final: { leader: string | null; ids: number[] | null; at: number };
  startedAt: string;
  commit: string;
  durationMs: number;
}
