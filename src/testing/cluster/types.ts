/**
 * The vocabulary of a simulated cluster, for the tests, the runner and the invariants that
 * drive it: the options it is made with, what it records (role changes, scheduled actions
 * coming due), what it reports of each node, and the shapes of a REST exchange and of a
 * client's write. Kept apart so that readers of a cluster need not load its machinery.
 */
import type { InspectionEvent } from 'xstate';
import type { Commit, SimulatedWorldOptions } from '../simulated-postgres/index.ts';

export interface SimulatedClusterOptions {
  /** Number of nodes, named node1..nodeN (default 3). */
  nodes?: number;
  /** Seeds every random choice of the simulation (default 1). */
  seed?: number;
  scope?: string;
  /** bootstrap.dcs (ttl, loop_wait, retry_timeout, synchronous_mode, ...), over small defaults. */
  dcs?: Record<string, unknown>;
  /** Tags per node (e.g. `{ nofailover: true }`). */
  tags?: (index: number, name: string) => Record<string, unknown>;
  /** More of each node's local `postgresql` section (e.g. remove_data_directory_on_rewind_failure). */
  localPostgresql?: Record<string, unknown>;
  /** Simulated PostgreSQL: operation durations, replication speed. */
  postgres?: Partial<
    Pick<
      SimulatedWorldOptions,
      'durations' | 'bytesPerTick' | 'tickMs' | 'walSenders' | 'checkpointTimelineWhenNotStreaming'
    >
  >;
  /** Virtual ms per step of advance() (default 100). */
  stepMs?: number;
  /** How often each agent samples PostgreSQL (default 1000 ms). */
  pgPollMs?: number;
  /** Every agent log line, prefixed with the virtual time and node name. */
  log?: (line: string) => void;
  /** An XState inspector given to every agent's actors (e.g. StateCoverage.inspect). */
  inspect?: (ev: InspectionEvent) => void;
  /**
   * Keep each node's decision journal in memory, as `pgwarden node` writes it to disk (one per
   * node, across agent restarts, each start headed again; see SimulatedNode.journal).
   */
  journals?: boolean;
  /**
   * Every node has a watchdog device (src/testing/cluster/watchdog.ts) and this watchdog mode in
   * its YAML. Absent: the YAML's default (automatic) on hosts without a device.
   */
  watchdog?: { mode: 'automatic' | 'required' };
  /**
   * Fast failover on every node (gossip.fast_failover) with this short lease (s), or off (false).
   * Absent: the YAML's default (on, the default short lease).
   */
  fastFailover?: { shortLeaseS: number } | false;
}

/** A change of a node's role, PostgreSQL state or leadership, at a virtual time. */
export interface ClusterEvent {
  at: number;
  node: string;
  role: string;
  state: string;
  isLeader: boolean;
}

/** A scheduler said its action is due: a scheduled restart or switchover. */
export interface ScheduledDue {
  node: string;
  scheduler: 'restart' | 'switchover';
  id: string;
  /** When it was scheduled for, and the node's own clock reading when it came due (epoch ms). */
  atMs: number;
  localNow: number;
}

export interface NodeSummary {
  name: string;
  agent: 'running' | 'dead' | 'frozen';
  role: string | null;
  state: string | null;
  isLeader: boolean;
  postgres: 'primary' | 'replica' | 'stopped';
  timeline: number | null;
  lsn: number | null;
  streaming: boolean;
}

export type RestMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD' | 'OPTIONS';

export interface RestResponse {
  status: number;
  body: string;
  /** The body parsed as JSON (undefined when it is text). */
  json: unknown;
}

export interface WriteOutcome {
  acknowledged: boolean;
  state: Commit['state'];
  node: string | null;
  lsn: number;
  timeline: number | null;
  /** The commit itself (null: rejected before reaching a primary); its state moves on later. */
  commit: Commit | null;
}
