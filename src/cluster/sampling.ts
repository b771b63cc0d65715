/**
 * How often PostgreSQL's full status (the SQL sample) is taken at rest. Each sample costs the agent
 * about a millisecond of CPU (the query, its result, the postmaster's PID file); taken every second
 * on an idle cluster it was most of the agent's idle CPU (measured: 0.6 % of a core against 0.2 %
 * at loop_wait). So at rest the full sample comes every loop_wait, as Patroni's loop queries, and
 * in between only the postmaster's liveness is checked (no SQL): a crashed or stopped server is
 * still seen within a second. Anything that must see newer WAL positions asks for a sample itself
 * (the leader race, REST status requests, a gossip peer's ask, the loop before it publishes).
 *
 * Not at rest, the full sample stays every poll: PostgreSQL not running or not yet sampled (it may
 * be starting), a replica not streaming (it may be about to), and a primary in synchronous mode,
 * whose commits wait on the standby it names: one that went away must be replaced within a second,
 * not a loop_wait.
 */
import type { PostgresStatus } from './postgres-state.ts';

export interface SamplingState {
  /** The last full sample delivered, null before the first. */
  last: PostgresStatus | null;
  /** ms since the last full sample was taken. */
  sinceFullMs: number;
  /** loop_wait in ms. */
  loopWaitMs: number;
  synchronousMode: boolean;
}

/** Whether the periodic check takes a full sample now (else: the postmaster's liveness alone). */
export function fullSampleDue(s: SamplingState): boolean {
  const pg = s.last;
  if (pg === null || !pg.running) return true;
  if (pg.inRecovery && pg.replicationState !== 'streaming') return true;
  if (!pg.inRecovery && s.synchronousMode) return true;
  return s.sinceFullMs >= s.loopWaitMs;
}

/** How old a sample a status reader (REST, a gossip ask) takes as it is; older ones are taken anew. */
export const FRESH_SAMPLE_MS = 1000;
/**
 * The same for a replica that does not stream (yet): the moment it starts to is what a leader's
 * check of a switchover candidate must see (src/cluster/eligibility.ts, fitToTakeOver), and a
 * re-pointed standby starts within about a second. A state that passes, so the extra samples pass too.
 */
export const FRESH_SAMPLE_NOT_STREAMING_MS = 200;

/** How old a sample a status reader takes as it is, given the last one (see the two above). */
export function freshSampleMs(last: PostgresStatus | null): number {
  return last?.running && last.inRecovery && last.replicationState !== 'streaming'
    ? FRESH_SAMPLE_NOT_STREAMING_MS
    : FRESH_SAMPLE_MS;
}
/** How long a status reader waits for a new sample before answering from the last (a hung server). */
export const FRESH_SAMPLE_WAIT_MS = 1000;
