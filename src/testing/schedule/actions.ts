/**
 * What a fault schedule is made of: each action the runner can play (faults on nodes, etcd and
 * the network, and operator requests), which of them are requests, and the bounds the generator
 * and the parser share (the operations a fault can slow down or fail, the largest clock drift).
 */
import { FAILING_OPERATIONS, type FailingOperation } from '../cluster/index.ts';

/**
 * Simulated PostgreSQL operations a `slow` fault can stretch. `session`: opening a session from
 * another host (a fence's), for a server that answers TCP and is slow or hung past it.
 */
export const SLOW_OPERATIONS = ['promote', 'stop', 'start', 'basebackup', 'rewind', 'session'] as const;
export type SlowOperation = (typeof SLOW_OPERATIONS)[number];
/** The operations the generator picks from for a slow fault of 1–30 s (a session gets its own, shorter). */
export const SLOW_LONG_OPERATIONS = SLOW_OPERATIONS.filter((op) => op !== 'session');

export type ScheduleAction =
  | {
      step: number;
      kind:
        | 'kill'
        | 'kill-agent'
        | 'restart'
        | 'crash-postgres'
        | 'freeze'
        | 'thaw'
        | 'dcs-cut'
        | 'dcs-reconnect'
        | 'shutdown'
        | 'reload';
      node: string;
    }
  | { step: number; kind: 'dcs-down' | 'dcs-up' }
  | { step: number; kind: 'partition' | 'heal'; a: string; b: string }
  /** `node` stays alive but refuses connections from `from` (every peer when null); `accept` ends it. */
  | { step: number; kind: 'reject'; node: string; from: string | null }
  | { step: number; kind: 'accept'; node: string }
  | { step: number; kind: 'dcs-latency'; ms: number }
  /**
   * `percent` % of the node's etcd calls fail (half before etcd applied them, half after: the
   * answer lost), as many watch deliveries break the watch, each call waits up to `latencyMs`
   * more; 0 and 0 end it.
   */
  | { step: number; kind: 'dcs-flaky'; node: string; percent: number; latencyMs: number }
  | { step: number; kind: 'slow'; node: string; op: SlowOperation; ms: number }
  /** The node's next call of a PostgreSQL operation fails (pg_ctl start fails, initdb out of disk). */
  | { step: number; kind: 'fail'; node: string; op: FailingOperation }
  /** Clock rate of one agent in parts per million (+ runs fast, − slow; 0 = exact). */
  | { step: number; kind: 'drift'; node: string; ppm: number }
  /**
   * The agent's wall clock jumps by `ms` (an NTP step, a VM resumed): + forward, − back, `afterMs`
   * into the step (a step lands anywhere, in the middle of a lease refresh too).
   */
  | { step: number; kind: 'clock-step'; node: string; ms: number; afterMs: number }
  /** Operator requests, sent to the REST API of `via` (leader read from the DCS when sent). */
  | { step: number; kind: 'switchover'; via: string; candidate: string | null; inS: number | null }
  | { step: number; kind: 'failover'; via: string; candidate: string }
  | { step: number; kind: 'pause' | 'resume'; via: string }
  | { step: number; kind: 'restart-postgres'; node: string; inS: number | null }
  | { step: number; kind: 'reinitialize'; node: string; force: boolean }
  /** PATCH /config of the lease timing, sent to `via` (any node, the leader included). */
  | { step: number; kind: 'patch-config'; via: string; ttl: number; loopWait: number; retryTimeout: number };

export type ActionKind = ScheduleAction['kind'];

/** PostgreSQL operations a `fail` fault can hit. */
export const FAIL_OPERATIONS = Object.keys(FAILING_OPERATIONS) as FailingOperation[];

/** Operator requests (the rest are faults). */
export const OPERATOR_KINDS: ReadonlySet<ActionKind> = new Set([
  'switchover',
  'failover',
  'pause',
  'resume',
  'restart-postgres',
  'reinitialize',
  'reload',
  'shutdown',
  'patch-config',
]);

/** Largest |drift| a schedule uses: 0.5 %, far beyond real quartz (tens of ppm). */
export const MAX_DRIFT_PPM = 5000;
