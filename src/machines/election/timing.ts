/**
 * The lease arithmetic: how long a lock may be trusted after a refresh, and how often the holder
 * refreshes. Every timer of the election is one of these.
 */
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
  // Armed: the lock is trusted for the watchdog's window after each keepalive (= refresh), so
  // refresh early enough to leave retries within it, and at least twice per window.
  const window = watchdogWindowMs;
  const latestInWindow = window - settings.retry_timeout * 1000 - retryStepMs(settings);
  return Math.min(interval, Math.max(latestInWindow, window / 2));
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
