import { describe, expect, it } from 'vitest';
import { type AnyStateMachine, createActor, createMachine, fromPromise, SimulatedClock } from 'xstate';
import { electionMachine } from '../../src/machines/election/index.ts';
import { nodeMachine } from '../../src/machines/node/index.ts';
import { scheduledActionMachine } from '../../src/machines/scheduled-action.ts';
import { createSimulatedCluster } from '../../src/testing/cluster/index.ts';
import { allStateIds } from '../../src/testing/coverage.ts';
import {
  agentMachines,
  type InvariantContext,
  noStuckMachine,
  type StuckBounds,
  StuckWatch,
  stuckBounds,
  tickInvariants,
} from '../../src/testing/invariants/index.ts';

const bounds: StuckBounds = { graceMs: 1000, timerMs: 60_000, operationMs: () => 120_000 };
const never = fromPromise(() => new Promise<void>(() => {}));

/** Start `machine`, send it `event`, and return a check at virtual time t. */
function watched(machine: AnyStateMachine, event: { type: string }) {
  const clock = new SimulatedClock();
  const actor = createActor(machine, { clock }).start();
  actor.send(event);
  const watch = new StuckWatch();
  return { actor, clock, at: (t: number) => watch.check(actor, 'tiny', t, bounds) };
}

function restingStates(machine: AnyStateMachine): string[] {
  return allStateIds(machine).filter((id) => machine.getStateNodeById(id).tags.includes('resting'));
}

describe('no machine stuck', () => {
  it('the machines mark the states that wait for outside events as resting', () => {
    expect(restingStates(nodeMachine)).toEqual([
      'node.active.foreignWhilePaused',
      'node.active.running.primary',
      'node.active.running.replica',
      'node.active.running.rewindFailed',
      'node.active.running.standbyLeader.atRest',
      'node.active.running.stoppedWhilePaused',
      'node.bootstrap.waitingForLeader',
      'node.starting.waitingForDcs',
    ]);
    expect(restingStates(electionMachine)).toEqual(['election.follower', 'election.resigned']);
    expect(restingStates(scheduledActionMachine())).toEqual([
      'scheduledAction.idle',
      'scheduledAction.pending.waiting',
    ]);
    expect(tickInvariants).toContain(noStuckMachine);
  });

  it('a state that waits for an event nobody sends is stuck once the grace period has passed', () => {
    const m = createMachine({ id: 'tiny', initial: 'a', states: { a: { on: { GO: 'b' } }, b: {} } });
    const { at, actor } = watched(m, { type: 'GO' });
    expect(at(0)).toBeNull();
    expect(at(500)).toBeNull();
    expect(at(1000)).toBe(
      'tiny stuck in b for 1.0 s: not a resting state, and no timer armed and no operation running',
    );
    actor.stop();
  });

  it('a resting state, a state with a timer and a running operation are not stuck', () => {
    const m = createMachine({
      id: 'tiny',
      initial: 'a',
      states: {
        a: { tags: ['resting'], on: { TIMER: 'b', WORK: 'c' } },
        b: { after: { 30000: 'a' } },
        c: { invoke: { src: fromPromise(() => new Promise<void>(() => {})), onDone: 'a' } },
      },
    });
    for (const event of ['NONE', 'TIMER', 'WORK']) {
      const { at, actor } = watched(m, { type: event });
      for (const t of [0, 1000, 60_000, 120_000]) expect(at(t), event).toBeNull();
      actor.stop();
    }
  });

  it('an operation without a timeout is caught when it outlives the bound', () => {
    const m = createMachine({
      id: 'tiny',
      initial: 'a',
      // The election-like companion on the compound state does not count: only what the atomic
      // state invoked moves it.
      states: {
        a: {
          invoke: { id: 'companion', src: never },
          initial: 'x',
          states: {
            x: { invoke: { src: fromPromise(() => new Promise<void>(() => {})), onDone: 'y' } },
            y: {},
          },
        },
      },
    });
    const { at, actor } = watched(m, { type: 'NONE' });
    expect(at(0)).toBeNull();
    expect(at(120_000)).toBeNull();
    expect(at(120_100)).toMatch(
      /^tiny in a\.x: xstate\.invoke\.0\.tiny\.a\.x has been running for 120\.1 s \(bound 120 s\)/,
    );
    actor.stop();
    const companionOnly = createMachine({
      id: 'tiny',
      initial: 'a',
      states: { a: { invoke: { id: 'companion', src: never }, initial: 'x', states: { x: {} } } },
    });
    const w = watched(companionOnly, { type: 'NONE' });
    expect(w.at(0)).toBeNull();
    expect(w.at(1000)).toMatch(/^tiny stuck in a\.x for 1\.0 s/);
    w.actor.stop();
  });

  it('a runaway timer and a failed machine are caught at once', () => {
    const runaway = createMachine({ id: 'tiny', initial: 'a', states: { a: { after: { 3600000: 'a' } } } });
    const w = watched(runaway, { type: 'NONE' });
    expect(w.at(0)).toMatch(/^tiny in a armed a 3600000 ms timer \(xstate\.after\.3600000\.tiny\.a\)/);
    w.actor.stop();
    const failing = createMachine({
      id: 'tiny',
      initial: 'a',
      states: { a: { invoke: { src: fromPromise(async () => Promise.reject(new Error('boom'))) } } },
    });
    const clock = new SimulatedClock();
    const actor = createActor(failing, { clock });
    actor.subscribe({ error: () => {} });
    actor.start();
    return new Promise<void>((resolve) =>
      setTimeout(() => {
        expect(new StuckWatch().check(actor, 'tiny', 0, bounds)).toBe('tiny machine failed: Error: boom');
        resolve();
      }, 0),
    );
  });

  it('bounds come from the settings: a lease for timers, the timeout (or a few DCS calls) for operations', async () => {
    const c = createSimulatedCluster({ nodes: 1, seed: 1 });
    await c.start();
    const agent = c.nodes[0]!.agent!;
    const b = stuckBounds(agent);
    expect(b.timerMs).toBe(60_000); // 2 × ttl 30
    expect(b.operationMs(undefined)).toBe(120_000); // pg_ctl_timeout 60 + 60
    expect(b.operationMs({ timeoutSeconds: 300 })).toBe(360_000); // primary_start_timeout
    expect(agentMachines(agent).map(([n]) => n)).toEqual([
      'node',
      'restart scheduler',
      'switchover scheduler',
    ]);
    await c.until(() => c.leader() === 'node1', 30_000);
    expect(agentMachines(agent).map(([n]) => n)).toEqual([
      'node',
      'election',
      'restart scheduler',
      'switchover scheduler',
    ]);
    await c.stop();
  });

  async function healthyCluster(opts: { fastFailover?: false } = {}) {
    const c = createSimulatedCluster({ nodes: 3, seed: 2, ...opts });
    const ctx: InvariantContext = { cluster: c, step: 0, synchronousMode: false };
    await c.start();
    await c.until(() => c.primaries().length === 1 && c.streamingReplicas().length === 2, 60_000);
    /** Advance tick by tick checking the invariant; the first violation (or null). */
    const run = async (ms: number): Promise<string | null> => {
      for (let t = 0; t < ms; t += 100) {
        await c.advance(100);
        const v = noStuckMachine.check(ctx);
        if (v !== null) return v;
      }
      return null;
    };
    return { c, run };
  }

  it('holds on a healthy cluster, and catches a leader whose refresh and deadline timers were lost', async () => {
    // Without fast failover: with it, gossip's renewals schedule the short lease's timers anew
    // and the leader steps down by them, so nothing is stuck to catch.
    const { c, run } = await healthyCluster({ fastFailover: false });
    expect(await run(60_000)).toBeNull();
    const leader = c.node(c.leader()!);
    const election = agentMachines(leader.agent!).find(([n]) => n === 'election')![1];
    expect(election.getSnapshot().value).toEqual({ leader: { holding: 'idle' } });
    // As if `after` were missing from leader.holding: nothing would ever refresh the lease or
    // make this node step down, while etcd lets the key expire.
    const system = election.system as unknown as {
      scheduler: { cancel(source: unknown, id: string): void };
      getSnapshot(): { _scheduledEvents: Record<string, { source: unknown; id: string }> };
    };
    for (const e of Object.values(system.getSnapshot()._scheduledEvents)) {
      if (e.source === election) system.scheduler.cancel(election, e.id);
    }
    const v = await run(5000);
    expect(v).toMatch(
      new RegExp(
        `^${leader.name}: election stuck in leader\\.holding\\.idle for 1\\.0 s: not a resting state`,
      ),
    );
    await c.stop();
  });

  it('catches a PostgreSQL stop that never returns, and ignores frozen time', async () => {
    const { c, run } = await healthyCluster();
    const leader = c.node(c.leader()!);
    const pg = leader.postgres as unknown as { stop: () => Promise<never> };
    pg.stop = () => new Promise<never>(() => {});
    // Cut from the DCS, the leader loses the lock at its deadline and demotes: stop immediate.
    leader.setDcsReachable(false);
    await c.until(() => (leader.report()?.state ?? '') === 'stopping', 60_000);
    // Frozen for longer than the bound: its wait stands still, nothing is counted.
    leader.freeze();
    expect(await run(200_000)).toBeNull();
    leader.thaw();
    const v = await run(200_000);
    expect(v).toMatch(
      new RegExp(
        `^${leader.name}: node in active\\.running\\.demoting: stopPostgres has been running for 12\\d\\.\\d s \\(bound 120 s\\): a wait without a timeout$`,
      ),
    );
    await c.stop();
  });
});
