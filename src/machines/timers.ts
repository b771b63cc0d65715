/**
 * What a timer can be. Node arms no timer longer than 2^31 − 1 ms (about 24.8 days): a longer
 * delay — or NaN, or less than 1 ms — fires after 1 ms, with only a TimeoutOverflowWarning on
 * stderr. A switchover scheduled a month ahead once ran at once that way. Machines whose delays
 * can be that long (an operator's schedule) wait in steps no longer than `LONGEST_TIMER_MS`; the
 * simulated clock applies Node's rule (`nodeTimerDelay`) so that a simulated run fails where
 * production would.
 */
export const LONGEST_TIMER_MS = 2 ** 31 - 1;

/** The delay Node really waits for `setTimeout(fn, ms)`, for delays it would overflow. */
export function nodeTimerDelay(ms: number): number {
  return ms > LONGEST_TIMER_MS || Number.isNaN(ms) ? 1 : ms;
}

/**
 * Timer events a machine raises itself (a delayed `raise`, where a state's `after` would restart
 * with the state): like XState's `xstate.after.*`, each must find a timer of its own due.
 */
export const RAISED_TIMER_EVENTS: ReadonlySet<string> = new Set([
  'REFRESH_DUE',
  'WATCHDOG_DEADLINE',
  'SHORT_LEASE_END',
  'SHORT_LEASE_LOW',
]);
