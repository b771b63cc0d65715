/**
 * POST /restart's filters and a scheduled restart, as Patroni applies them: the restart happens
 * only if the role, the PostgreSQL version and the pending-restart flag match the request, and a
 * scheduled one is dropped if the postmaster restarted since it was scheduled.
 */
import { isoTimestamp } from './history.ts';
import type { PostgresStatus } from './postgres-state.ts';
import { postgresVersionToInt } from './versions.ts';

/** The filters of a restart request (Patroni's restart conditions). */
export interface RestartConditions {
  role?: 'master' | 'replica';
  postgres_version?: string;
  restart_pending?: boolean;
}

/** POST /restart body after validation (schedule parsed, timeout in seconds). */
export interface RestartRequest extends RestartConditions {
  schedule?: Date;
  timeout?: number;
}

/** A restart waiting for its time. */
export interface ScheduledRestart {
  request: RestartRequest;
  /** What the member key and /patroni show. */
  published: Record<string, unknown>;
  /** A postmaster that restarted meanwhile makes the scheduled restart moot. */
  postmasterStart: string | null;
}

/** Patroni's role filter: `master` (or `primary`) is the lock holder, `replica` anyone else. */
export function restartConditionsMet(
  c: RestartConditions,
  isLeader: boolean,
  pg: PostgresStatus | null,
): boolean {
  const role = isLeader ? 'master' : 'replica';
  if (c.role && c.role !== role) return false;
  if (c.postgres_version !== undefined) {
    const running = pg?.serverVersion ?? 0;
    if (postgresVersionToInt(c.postgres_version) <= running) return false;
  }
  if (c.restart_pending && !pg?.pendingRestart) return false;
  return true;
}

/** A restart scheduled for `request.schedule`, with what it shows and the postmaster it restarts. */
export function scheduledRestart(request: RestartRequest, pg: PostgresStatus | null): ScheduledRestart {
  const postmasterStart = pg?.postmasterStartTime ?? null;
  const published: Record<string, unknown> = { schedule: isoTimestamp(request.schedule!) };
  for (const key of ['role', 'postgres_version', 'restart_pending', 'timeout'] as const) {
    if (request[key] !== undefined) published[key] = request[key];
  }
  if (postmasterStart) published['postmaster_start_time'] = postmasterStart;
  return { request, published, postmasterStart };
}

/** The postmaster restarted since the restart was scheduled: the scheduled one is moot. */
export function restartedSinceScheduled(s: ScheduledRestart, pg: PostgresStatus | null): boolean {
  return (pg?.postmasterStartTime ?? null) !== s.postmasterStart;
}
