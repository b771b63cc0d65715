/**
 * Advancing XState's SimulatedClock without its garbage. `SimulatedClock.increment` copies and
 * sorts every pending timeout on every call, and again after every callback that sets or
 * clears one; the simulator calls it thousands of times per run, and those copies were a fifth
 * of everything a run allocated. `incrementClock` fires exactly the same callbacks in exactly
 * the same order (see below) but only looks at the timeouts that are due.
 *
 * Why the order is the same: `flushTimeouts` sorts `[...timeouts]` (insertion order, i.e. by
 * id) with `(a, b) => endB > endA ? -1 : 1`. Below 64 elements V8's sort is a binary insertion
 * sort over an initial run, which with this comparator is a stable sort by end time, so the
 * due callbacks fire by end time, ties in the order they were set. After a callback sets or
 * clears a timeout (`_flushingInvalidated`), the original starts over from a fresh sort at its
 * next position, that is unless the callback was the last timeout in that sort. For 64 or
 * more timeouts, or end times that are not numbers (NaN sorts inconsistently), this falls
 * back to `increment` itself.
 *
 * It reads SimulatedClock's private fields: simulator only, and `test/unit/xstate-pin.test.ts`
 * fails when XState is not the exact version this was checked on.
 */
import type { SimulatedClock } from 'xstate';

interface Timeout {
  start: number;
  timeout: number;
  fn: () => void;
}

/** The fields of xstate 5's SimulatedClock this relies on. */
interface ClockState {
  timeouts: Map<number, Timeout>;
  _now: number;
  _flushing: boolean;
  _flushingInvalidated: boolean;
}

const MAX_INSERTION_SORT = 64;

// Scratch space reused by every call (one thread runs one flush at a time, see inUse). End
// times are fractional under clock drift: they live in a Float64Array, not in variables that
// would box every one.
const dueIds: number[] = [];
const dueTimeouts: Timeout[] = [];
const dueEnds = new Float64Array(MAX_INSERTION_SORT);
/** [0]: now, [1]: the largest end seen so far in this scan. */
const times = new Float64Array(2);

// One scan of the pending timeouts (a plain function and module state: no closure per call).
let due = 0;
let lastId = -1;
let nan = false;
let inUse = false;

function scan(t: Timeout, id: number): void {
  const end = t.start + t.timeout;
  if (Number.isNaN(end)) nan = true;
  if (end >= times[1]!) {
    times[1] = end;
    lastId = id;
  }
  if (times[0]! - t.start >= t.timeout) {
    // Insertion sort, after every equal end (stable).
    let i = due;
    while (i > 0 && dueEnds[i - 1]! > end) {
      dueIds[i] = dueIds[i - 1]!;
      dueTimeouts[i] = dueTimeouts[i - 1]!;
      dueEnds[i] = dueEnds[i - 1]!;
      i--;
    }
    dueIds[i] = id;
    dueTimeouts[i] = t;
    dueEnds[i] = end;
    due++;
  }
}

function usable(c: ClockState): boolean {
  return c.timeouts instanceof Map && typeof c._now === 'number' && typeof c._flushing === 'boolean';
}

/**
 * `clock.increment(ms)`, allocation-free. Answers how many callbacks ran other than the one
 * timeout `quiet` (an id from `clock.setTimeout`, or null); -1 when it fell back to
 * `increment`, whose callbacks it cannot see.
 */
export function incrementClock(clock: SimulatedClock, ms: number, quiet: unknown = null): number {
  const c = clock as unknown as ClockState;
  // A callback that advances some clock synchronously would reuse the scratch space.
  if (inUse || !usable(c)) {
    clock.increment(ms);
    return -1;
  }
  c._now += ms;
  if (c._flushing) {
    c._flushingInvalidated = true;
    return 0;
  }
  c._flushing = true;
  inUse = true;
  let ran = 0;
  for (;;) {
    // One pass of the original: what is due now, by end time, ties by id.
    c._flushingInvalidated = false;
    const timeouts = c.timeouts;
    if (timeouts.size >= MAX_INSERTION_SORT) return fallBack(clock, c);
    times[0] = c._now;
    times[1] = Number.NEGATIVE_INFINITY;
    due = 0;
    lastId = -1;
    nan = false;
    timeouts.forEach(scan);
    if (nan) return fallBack(clock, c);
    let again = false;
    const n = due;
    for (let i = 0; i < n; i++) {
      const id = dueIds[i]!;
      const t = dueTimeouts[i]!;
      dueTimeouts[i] = undefined as unknown as Timeout;
      timeouts.delete(id);
      if (id !== quiet) ran++;
      t.fn.call(null);
      if (c._flushingInvalidated) {
        // The original looks at the flag before its next position: there is none after the last.
        if (id !== lastId) again = true;
        for (let k = i + 1; k < n; k++) dueTimeouts[k] = undefined as unknown as Timeout;
        break;
      }
    }
    if (!again) {
      c._flushing = false;
      inUse = false;
      return ran;
    }
  }
}

/** The rest of this flush by the original, from a fresh sort (time has already moved). */
function fallBack(clock: SimulatedClock, c: ClockState): number {
  c._flushing = false;
  c._flushingInvalidated = false;
  inUse = false;
  (clock as unknown as { flushTimeouts(): void }).flushTimeouts();
  return -1;
}
