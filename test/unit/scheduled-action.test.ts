import { describe, expect, it } from 'vitest';
import { createActor, fromPromise } from 'xstate';
import { type ScheduledActionEmitted, scheduledActionMachine } from '../../src/machines/scheduled-action.ts';
import { LONGEST_TIMER_MS } from '../../src/machines/timers.ts';
import { NodeClock } from '../../src/testing/node-clock.ts';
import { advance, SimulatedClock } from '../helpers/sim.ts';

const DAY = 86_400_000;

function harness(nodeTimers = false) {
  const clock = new SimulatedClock();
  // NodeClock: timers as Node arms them (a delay past 2^31 − 1 ms fires after 1 ms).
  const actor = createActor(scheduledActionMachine<string>(), {
    clock: nodeTimers ? new NodeClock(clock) : clock,
    input: {},
  });
  const seen: ScheduledActionEmitted<string>[] = [];
  for (const t of ['due', 'conflict', 'cancelled', 'nothing-to-cancel'] as const)
    actor.on(t, (e) => seen.push(e));
  actor.start();
  return { clock, actor, seen };
}

/** As the agent runs it: the wall clock read when a wait ends, from a clock that can step. */
function steppingHarness() {
  const shared = new SimulatedClock();
  const clock = new NodeClock(shared);
  const machine = scheduledActionMachine<string>().provide({
    actors: { readClock: fromPromise<number>(async () => clock.now()) },
  });
  const actor = createActor(machine, { clock, input: {} });
  const seen: ScheduledActionEmitted<string>[] = [];
  actor.on('due', (e) => seen.push(e));
  actor.start();
  return { shared, clock, actor, seen };
}

describe('scheduled action machine', () => {
  it('the wall clock stepped back while it waited: not due until the wall clock says so', async () => {
    const h = steppingHarness();
    h.actor.send({
      type: 'SCHEDULE',
      id: 'r',
      atMs: h.clock.now() + 60_000,
      nowMs: h.clock.now(),
      payload: 'x',
    });
    await advance(h.shared, 30_000, 1000);
    h.clock.step(-120_000);
    await advance(h.shared, 60_000, 1000);
    expect(h.seen).toEqual([]);
    expect(h.actor.getSnapshot().value).toEqual({ pending: 'waiting' });
    await advance(h.shared, 89_000, 1000);
    expect(h.seen).toEqual([]);
    await advance(h.shared, 2000, 1000);
    expect(h.seen).toEqual([{ type: 'due', id: 'r', atMs: 60_000, payload: 'x', lateMs: 0 }]);
  });

  it('the wall clock stepped forward while it waited: due at the end of that wait, and says how late', async () => {
    const h = steppingHarness();
    h.actor.send({ type: 'SCHEDULE', id: 'r', atMs: 60_000, nowMs: 0, payload: 'x' });
    await advance(h.shared, 10_000, 1000);
    h.clock.step(120_000);
    await advance(h.shared, 49_000, 1000);
    expect(h.seen).toEqual([]);
    await advance(h.shared, 2000, 1000);
    expect(h.seen).toEqual([{ type: 'due', id: 'r', atMs: 60_000, payload: 'x', lateMs: 120_000 }]);
  });

  it('fires once, when its time comes on the actor clock', async () => {
    const h = harness();
    h.actor.send({
      type: 'SCHEDULE',
      id: 'r1',
      atMs: 1_000_060_000,
      nowMs: 1_000_000_000,
      payload: 'restart',
    });
    await advance(h.clock, 59_900, 100);
    expect(h.seen).toEqual([]);
    await advance(h.clock, 200, 100);
    expect(h.seen).toEqual([{ type: 'due', id: 'r1', atMs: 1_000_060_000, payload: 'restart', lateMs: 0 }]);
    await advance(h.clock, 120_000, 1000);
    expect(h.seen).toHaveLength(1);
    expect(h.actor.getSnapshot().value).toBe('idle');
  });

  it('a time already past fires at once and says how late', async () => {
    const h = harness();
    h.actor.send({ type: 'SCHEDULE', id: 's', atMs: 100, nowMs: 40_100, payload: 'switchover' });
    await advance(h.clock, 10, 10);
    expect(h.seen).toEqual([{ type: 'due', id: 's', atMs: 100, payload: 'switchover', lateMs: 40_000 }]);
  });

  it('a second, different schedule conflicts; the same one again is no conflict', () => {
    const h = harness();
    h.actor.send({ type: 'SCHEDULE', id: 'a', atMs: 10_000, nowMs: 0, payload: 'x' });
    h.actor.send({ type: 'SCHEDULE', id: 'a', atMs: 10_000, nowMs: 5, payload: 'x' });
    h.actor.send({ type: 'SCHEDULE', id: 'b', atMs: 20_000, nowMs: 5, payload: 'y' });
    expect(h.seen).toEqual([{ type: 'conflict', id: 'b' }]);
    expect(h.actor.getSnapshot().context.pending?.id).toBe('a');
  });

  it('cancel stops it; cancelling nothing says so', async () => {
    const h = harness();
    h.actor.send({ type: 'CANCEL' });
    h.actor.send({ type: 'SCHEDULE', id: 'a', atMs: 10_000, nowMs: 0, payload: 'x' });
    h.actor.send({ type: 'CANCEL', id: 'other' });
    expect(h.actor.getSnapshot().value).toEqual({ pending: 'waiting' });
    h.actor.send({ type: 'CANCEL', id: 'a' });
    await advance(h.clock, 20_000, 1000);
    expect(h.seen).toEqual([{ type: 'nothing-to-cancel' }, { type: 'cancelled', id: 'a' }]);
  });

  it("waits months under Node's timer limit: due on time, not after 1 ms", async () => {
    const h = harness(true);
    const now = Date.UTC(2026, 11, 3);
    h.actor.send({ type: 'SCHEDULE', id: 'far', atMs: now + 90 * DAY, nowMs: now, payload: 'switchover' });
    await advance(h.clock, 1000, 100);
    expect(h.seen).toEqual([]);
    // Three steps of LONGEST_TIMER_MS (24.8 days) each, then the rest. (Each step starts when the
    // last one fired: a late timer makes the whole wait later, never earlier.)
    await advance(h.clock, LONGEST_TIMER_MS - 1000, LONGEST_TIMER_MS);
    await advance(h.clock, 2 * LONGEST_TIMER_MS, LONGEST_TIMER_MS);
    expect(h.actor.getSnapshot().context.pending?.nowMs).toBe(now + 3 * LONGEST_TIMER_MS);
    await advance(h.clock, 90 * DAY - 3 * LONGEST_TIMER_MS - 1, DAY);
    expect(h.seen).toEqual([]);
    await advance(h.clock, 1, 1);
    expect(h.seen).toEqual([
      { type: 'due', id: 'far', atMs: now + 90 * DAY, payload: 'switchover', lateMs: 0 },
    ]);
  });

  it('the simulated node clock overflows as Node does (what the machine must avoid)', async () => {
    const clock = new SimulatedClock();
    const node = new NodeClock(clock);
    const fired: string[] = [];
    node.setTimeout(() => fired.push('30 days'), 30 * DAY);
    node.setTimeout(() => fired.push('20 days'), 20 * DAY);
    await advance(clock, 1, 1);
    expect(fired).toEqual(['30 days']);
    await advance(clock, 20 * DAY, DAY);
    expect(fired).toEqual(['30 days', '20 days']);
  });
});
