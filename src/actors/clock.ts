/**
 * The one source of time for actors. Production uses the system clock; tests and the
 * simulator pass XState's SimulatedClock (same shape), so machines' `after` timers and
 * actors' timeouts advance together.
 */
export interface Clock {
  /** Wall-clock milliseconds since the epoch, for timestamps and scheduled times: it may step
   * (an NTP correction, a VM resumed from a snapshot) forward or back. */
  now(): number;
  /**
   * Milliseconds on a clock that never steps, for durations: a lease's age, a call's deadline.
   * A clock without it (XState's SimulatedClock in tests) never steps: its now() serves.
   */
  monotonic?(): number;
  setTimeout(fn: (...args: unknown[]) => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

/** The one way to read a duration's clock (see Clock.monotonic). */
export function monotonicNow(clock: Clock): number {
  return clock.monotonic ? clock.monotonic() : clock.now();
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as NodeJS.Timeout),
};
