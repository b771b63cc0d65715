import { describe, expect, it } from 'vitest';
import { definitionsHash, JOURNAL_FORMAT } from '../../src/actors/journal.ts';
import { allMachines } from '../../src/machines/index.ts';
import { createSimulatedCluster } from '../../src/testing/index.ts';

/**
 * What an agent's journal holds, from a run of the production Agent (simulated etcd and
 * PostgreSQL): enough to re-run its machines — the header first, then every event each machine
 * received (invoked actors' results, timers, samples, views) under stable actor names.
 */
describe("an agent's decision journal", () => {
  it('starts with the header and records every machine under its name, XState’s own events included', async () => {
    const c = createSimulatedCluster({
      seed: 3,
      journals: true,
      dcs: { ttl: 30, loop_wait: 10, retry_timeout: 10 },
    });
    try {
      await c.start();
      await c.until(() => c.leader() !== null && c.streamingReplicas().length === 2, 60_000);
      await c.advance(30_000); // a lease refresh and a follower's loop: the election's timers fire
      const leader = c.node(c.leader()!);
      const entries = leader.journal!.entries();
      expect(entries[0]).toMatchObject({
        kind: 'header',
        actor: leader.name,
        what: JOURNAL_FORMAT,
        event: { machines: definitionsHash(allMachines), node: leader.name },
      });
      expect(entries.filter((e) => e.kind === 'header')).toHaveLength(1);
      const actors = new Set(entries.map((e) => e.actor));
      for (const name of [
        'node',
        'node.election',
        'node.restartScheduler',
        'node.switchoverScheduler',
        'serverParameters',
        'leaderDuties',
      ])
        expect(actors).toContain(name);
      // Names come from the public API: no actor went unnamed.
      expect([...actors].filter((a) => a.includes('?'))).toEqual([]);
      const events = (actor: string) =>
        entries.filter((e) => e.actor === actor && e.kind === 'event').map((e) => e.what);
      expect(events('node').some((w) => w.startsWith('xstate.done.actor.'))).toBe(true);
      expect(events('node')).toContain('PG_STATUS');
      expect(events('node')).toContain('CLUSTER');
      // The leader's refresh timer (a delayed event of its own) fired, and the refresh's result came back.
      expect(events('node.election')).toContain('REFRESH_DUE');
      expect(events('node.election').some((w) => w.startsWith('xstate.done.actor.'))).toBe(true);
      expect(events('serverParameters')).toContain('SAMPLED');
      expect(events('leaderDuties')).toContain('PUBLISH');
      expect(events('leaderDuties')).toContain('DONE');
      // Times from the actor clock (virtual), never before the header.
      expect(entries.every((e) => e.t >= entries[0]!.t)).toBe(true);
    } finally {
      await c.stop();
    }
  });

  it('a REST switchover is a machine of its own in the journal: its steps, its events, its answer', async () => {
    const c = createSimulatedCluster({
      seed: 5,
      journals: true,
      dcs: { ttl: 30, loop_wait: 10, retry_timeout: 10 },
    });
    try {
      await c.start();
      await c.until(() => c.leader() !== null && c.streamingReplicas().length === 2, 60_000);
      const old = c.leader()!;
      const candidate = c.streamingReplicas()[0]!;
      const res = await c.rest(old, 'POST', '/switchover', { leader: old, candidate });
      expect(res.status).toBe(200);
      const entries = c.node(old).journal!.entries();
      const states = entries
        .filter((e) => e.actor === 'manualFailover-1' && e.kind === 'state')
        .map((e) => e.what);
      expect(states).toEqual(['readingCluster', 'probing', 'writing', 'awaitingOutcome', 'answered']);
      const events = entries.filter((e) => e.actor === 'manualFailover-1' && e.kind === 'event');
      expect(events.map((e) => e.what)).toContain('CLUSTER');
      expect(events.some((e) => e.what.startsWith('xstate.done.actor.'))).toBe(true);
    } finally {
      await c.stop();
    }
  });
});
