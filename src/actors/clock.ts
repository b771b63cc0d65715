/**
 * The one source of time for actors. Production uses the system clock; tests and the
 * simulator pass XState's SimulatedClock (same shape), so machines' `after` timers and
 * actors' timeouts advance together.
 */
export interface Clock {
  /** Milliseconds. */
  now(): number;
  setTimeout(fn: (...args: unknown[]) => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as NodeJS.Timeout),
};
