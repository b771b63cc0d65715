import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { incrementClock } from '../../src/testing/sim-clock.ts';

/**
 * A random program of timers: some set up front, and callbacks that set more (zero delays
 * too), clear others or advance the clock themselves. Played once with SimulatedClock's own
 * increment and once with incrementClock, the callbacks must run in the same order at the
 * same times.
 */
interface Op {
  delay: number;
  /** What the callback does when it runs. */
  action: 'nothing' | 'set' | 'set-now' | 'clear' | 'increment';
  arg: number;
}

const delays = fc.oneof(
  fc.constantFrom(0, 100, 200, 1000),
  fc.integer({ min: 0, max: 3000 }),
  fc.double({ min: 0, max: 3000, noNaN: true }),
);
const op = fc.record({
  delay: delays,
  action: fc.constantFrom('nothing', 'nothing', 'set', 'set-now', 'clear', 'increment'),
  arg: fc.integer({ min: 0, max: 1000 }),
}) as fc.Arbitrary<Op>;

function play(ops: Op[], steps: number[], advance: (clock: SimulatedClock, ms: number) => void): string[] {
  const clock = new SimulatedClock();
  const log: string[] = [];
  const ids: unknown[] = [];
  let next = 0;
  const set = (label: string, delay: number): void => {
    const o = ops[next++ % ops.length]!;
    const name = `${label}.${next}`;
    ids.push(
      clock.setTimeout(() => {
        log.push(`${clock.now()}:${name}`);
        if (next > 400) return;
        if (o.action === 'set') set(name, o.delay);
        else if (o.action === 'set-now') set(name, 0);
        else if (o.action === 'clear' && ids.length > 0)
          clock.clearTimeout(ids[o.arg % ids.length] as number);
        else if (o.action === 'increment') clock.increment(o.arg % 50);
      }, delay),
    );
  };
  for (const o of ops) set('t', o.delay);
  for (const ms of steps) advance(clock, ms);
  return log;
}

describe('incrementClock', () => {
  it('fires the same callbacks in the same order as SimulatedClock.increment', () => {
    fc.assert(
      fc.property(
        fc.array(op, { minLength: 1, maxLength: 40 }),
        fc.array(fc.constantFrom(0, 50, 100, 100, 100, 250, 1000), { minLength: 1, maxLength: 60 }),
        (ops, steps) => {
          const expected = play(ops, steps, (clock, ms) => clock.increment(ms));
          const actual = play(ops, steps, (clock, ms) => {
            incrementClock(clock, ms);
          });
          expect(actual).toEqual(expected);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('counts the callbacks that ran, except the quiet one', () => {
    const clock = new SimulatedClock();
    const quiet = clock.setTimeout(() => {}, 100);
    clock.setTimeout(() => {}, 100);
    clock.setTimeout(() => {}, 300);
    expect(incrementClock(clock, 100, quiet)).toBe(1);
    expect(incrementClock(clock, 100, quiet)).toBe(0);
    expect(incrementClock(clock, 100, quiet)).toBe(1);
  });

  it('falls back to increment with many timeouts, and says so', () => {
    const clock = new SimulatedClock();
    const log: number[] = [];
    for (let i = 0; i < 80; i++) clock.setTimeout(() => log.push(i), 100 - (i % 7));
    expect(incrementClock(clock, 100)).toBe(-1);
    expect(log).toHaveLength(80);
  });
});
