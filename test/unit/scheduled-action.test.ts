import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { type ScheduledActionEmitted, scheduledActionMachine } from '../../src/machines/scheduled-action.ts';
import { advance, SimulatedClock } from '../helpers/sim.ts';

function harness() {
  const clock = new SimulatedClock();
  const actor = createActor(scheduledActionMachine<string>(), { clock });
  const seen: ScheduledActionEmitted<string>[] = [];
  for (const t of ['due', 'conflict', 'cancelled', 'nothing-to-cancel'] as const)
    actor.on(t, (e) => seen.push(e));
  actor.start();
  return { clock, actor, seen };
}

describe('scheduled action machine', () => {
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
    expect(h.seen).toEqual([{ type: 'due', id: 'r1', payload: 'restart', lateMs: 0 }]);
    await advance(h.clock, 120_000, 1000);
    expect(h.seen).toHaveLength(1);
    expect(h.actor.getSnapshot().value).toBe('idle');
  });

  it('a time already past fires at once and says how late', async () => {
    const h = harness();
    h.actor.send({ type: 'SCHEDULE', id: 's', atMs: 100, nowMs: 40_100, payload: 'switchover' });
    await advance(h.clock, 10, 10);
    expect(h.seen).toEqual([{ type: 'due', id: 's', payload: 'switchover', lateMs: 40_000 }]);
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
    expect(h.actor.getSnapshot().value).toBe('waiting');
    h.actor.send({ type: 'CANCEL', id: 'a' });
    await advance(h.clock, 20_000, 1000);
    expect(h.seen).toEqual([{ type: 'nothing-to-cancel' }, { type: 'cancelled', id: 'a' }]);
  });
});
