/**
 * The lease arithmetic: how long a lock may be trusted after a refresh, and how often the holder
 * refreshes. Every timer of the election is one of these.
 */
import { FAILSAFE_CONFIRM_BUDGET_MS } from '../../cluster/failsafe.ts';
import type { ElectionSettings } from './types.ts';

/**
 * How often the holder refreshes its lease: as late as still leaves a full retry_timeout of
 * retries before its own deadline, and never more often than loop_wait. After a crash the
 * lease runs out ttl after the last refresh, so refreshing late (not early) is what makes
 * failover faster, at no cost to how long a DCS outage the leader survives.
 */
export function refreshIntervalMs(
  settings: ElectionSettings,
  watchdogWindowMs: number | null = null,
): number {
  const latest =
    settings.ttl * 1000 - leaseMarginMs(settings) - settings.retry_timeout * 1000 - retryStepMs(settings);
  const interval = Math.max(settings.loop_wait * 1000, latest);
  if (watchdogWindowMs === null) return interval;
  // Armed: the lock is trusted for the watchdog's window after each keepalive (= refresh). A
  // refresh to an etcd that does not answer fails only after retry_timeout, and in failsafe mode
  // the members are then asked: both must fit in the window, or the leader would give the lock up
  // (or failsafe mode never keep it) before the refresh had its answer. A window too short for
  // that (a short watchdog, a long retry_timeout) gets a refresh every retry step: safe, fragile.
  const confirming = settings.failsafe_mode === true ? FAILSAFE_CONFIRM_BUDGET_MS : 0;
  const latestInWindow =
    watchdogWindowMs - settings.retry_timeout * 1000 - retryStepMs(settings) - confirming;
  return Math.min(interval, Math.max(retryStepMs(settings), latestInWindow));
}

/** Pause between refresh attempts while the DCS does not answer. */
export function retryStepMs(settings: ElectionSettings): number {
  return Math.min(1000, settings.loop_wait * 1000);
}

/** ms a lock on a lease of `ttlSeconds`, refreshed `ageMs` ago, may still be trusted. */
export function trustedMs(ttlSeconds: number, settings: ElectionSettings, ageMs: number): number {
  return ttlSeconds * 1000 - leaseMarginMs({ ...settings, ttl: ttlSeconds }) - ageMs;
}

export function leaseMarginMs(settings: ElectionSettings): number {
  return Math.min(2000, Math.max(500, settings.ttl * 100));
}

/**
 * Whether the node's word on its watchdog starts the window anew: armed (again), given another
 * timeout or window, or armed while we did not know of it (an agent restarted beside a running
 * primary arms it before the election leads again). Told again as it was, the window runs on
 * from the last keepalive.
 */
export function watchdogWindowStarts(
  knownMs: number | null,
  told: { windowMs: number | null; reopened: boolean },
): boolean {
  return told.windowMs !== null && (told.reopened || told.windowMs !== knownMs);
}
