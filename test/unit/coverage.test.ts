import { describe, expect, it } from 'vitest';
import { createActor, createMachine, fromPromise, SimulatedClock } from 'xstate';
import { dcsEditMachine } from '../../src/machines/dcs-edit.ts';
import { electionMachine } from '../../src/machines/election/index.ts';
import { leaderDutiesMachine } from '../../src/machines/leader-duties.ts';
import { manualFailoverMachine } from '../../src/machines/manual-failover.ts';
import { nodeMachine } from '../../src/machines/node/index.ts';
import { reinitializeRequestMachine } from '../../src/machines/reinitialize-request.ts';
import { scheduledActionMachine } from '../../src/machines/scheduled-action.ts';
import { serverParametersMachine } from '../../src/machines/server-parameters.ts';
import {
  activeStateIds,
  allStateIds,
  allTransitionIds,
  type CoverageData,
  formatCoverage,
  StateCoverage,
  transientStateIds,
} from '../../src/testing/coverage.ts';
import { runSchedule } from '../../src/testing/runner/index.ts';

type Config = Record<string, unknown>;
const list = (x: unknown): unknown[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);

/** Transitions counted straight from a machine's raw config (independently of coverage.ts). */
function countConfigTransitions(cfg: Config): number {
  let n = 0;
  for (const v of Object.values((cfg['on'] ?? {}) as Config)) n += list(v).length;
  n += list(cfg['always']).length;
  for (const v of Object.values((cfg['after'] ?? {}) as Config)) n += list(v).length;
  for (const inv of list(cfg['invoke']) as Config[])
    n += list(inv['onDone']).length + list(inv['onError']).length;
  for (const child of Object.values((cfg['states'] ?? {}) as Config))
    n += countConfigTransitions(child as Config);
  return n;
}

/** A tiny machine with 8 transitions: 1 on the root, 3 from a, 2 from b, 2 from c. */
const tiny = createMachine({
  id: 'tiny',
  initial: 'a',
  on: { RESET: '.a' },
  states: {
    a: {
      on: { GO: [{ guard: () => false, target: 'b' }, { target: 'c' }] },
      after: { 1000: 'b' },
    },
    b: {
      always: { guard: () => false, target: 'c' },
      on: { BACK: 'a' },
    },
    c: {
      invoke: { src: fromPromise(async () => 1), onDone: 'a', onError: 'b' },
    },
  },
});

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('state and transition coverage of simulated runs', () => {
  it('knows every state of the machines, and which ones are only passed through', () => {
    const node = allStateIds(nodeMachine);
    expect(node).toContain('node.active.running.primary');
    expect(node).toContain('node.active.running.switchingOver.checkpointing');
    expect(allStateIds(electionMachine)).toContain('election.leader.holding.refreshing');
    expect(transientStateIds(nodeMachine).has('node.active.running.boot')).toBe(true);
    expect(transientStateIds(nodeMachine).has('node.active.running.primary')).toBe(false);
    expect(transientStateIds(electionMachine).has('election.init')).toBe(true);
  });

  it('turns snapshot values into state ids', () => {
    expect(activeStateIds('node', { active: { running: 'primary' } })).toEqual([
      'node.active',
      'node.active.running',
      'node.active.running.primary',
    ]);
    expect(activeStateIds('election', 'follower')).toEqual(['election.follower']);
  });

  it('knows every transition of a machine, guarded alternatives apart', () => {
    expect(allTransitionIds(tiny)).toEqual([
      'tiny --RESET--> tiny.a',
      'tiny.a --GO#0--> tiny.b',
      'tiny.a --GO#1--> tiny.c',
      'tiny.a --after(1000)--> tiny.b',
      'tiny.b --BACK--> tiny.a',
      'tiny.b --always--> tiny.c',
      'tiny.c --done(invoke#0)--> tiny.a',
      'tiny.c --error(invoke#0)--> tiny.b',
    ]);
    expect(countConfigTransitions(tiny.config as Config)).toBe(8);
    for (const m of [nodeMachine, electionMachine, scheduledActionMachine()]) {
      const ids = allTransitionIds(m);
      expect(ids.length).toBe(countConfigTransitions(m.config as Config));
      expect(new Set(ids).size).toBe(ids.length);
    }
    expect(allTransitionIds(electionMachine)).toContain(
      'election.leader.holding --after(leaseDeadline)--> election.lost',
    );
    expect(allTransitionIds(nodeMachine)).toContain(
      'node.active.running.promoting.promotingPostgres --done(promote)--> node.active.running.afterPromotion',
    );
  });

  it('records the transitions an actor takes, from its inspection events', async () => {
    const coverage = new StateCoverage([tiny]);
    const clock = new SimulatedClock();
    const actor = createActor(tiny, { clock, inspect: coverage.inspect }).start();
    actor.send({ type: 'GO' }); // guard false, then c
    await tick(); // the promise resolves: back to a
    clock.increment(1000); // a → b
    actor.send({ type: 'RESET' });
    expect(actor.getSnapshot().value).toBe('a');
    const [r] = coverage.report();
    expect(r!.transitions).toEqual({
      total: 8,
      taken: 4,
      untaken: [
        'tiny.a --GO#0--> tiny.b',
        'tiny.b --BACK--> tiny.a',
        'tiny.b --always--> tiny.c',
        'tiny.c --error(invoke#0)--> tiny.b',
      ],
    });
    expect(r).toMatchObject({ machine: 'tiny', total: 3, visited: 3 });
    actor.stop();
  });

  it('records what seeded runs visit and take, and lists the rest', async () => {
    const coverage = new StateCoverage();
    for (const seed of [1, 2]) await runSchedule({ seed, nodes: 3, steps: 30, coverage });
    const report = coverage.report();
    expect(report.map((r) => r.machine)).toEqual([
      'node',
      'election',
      'scheduledAction',
      'serverParameters',
      'leaderDuties',
      'manualFailover',
      'dcsEdit',
      'reinitializeRequest',
    ]);
    const [node, election, scheduled, parameters, duties, manual, edit, reinit] = report;
    expect(node!.unvisited).not.toContain('node.active.running.primary');
    expect(node!.unvisited).not.toContain('node.active.running.replica');
    expect(node!.unvisited).not.toContain('node.active.running.boot'); // transient: not counted at all
    expect(node!.visited + node!.unvisited.length).toBe(node!.total);
    expect(election!.unvisited).not.toContain('election.leader.holding.idle');
    for (const [r, m] of [
      [node!, nodeMachine],
      [election!, electionMachine],
      [scheduled!, scheduledActionMachine()],
      [parameters!, serverParametersMachine],
      [duties!, leaderDutiesMachine],
      [manual!, manualFailoverMachine],
      [edit!, dcsEditMachine],
      [reinit!, reinitializeRequestMachine],
    ] as const) {
      expect(r.transitions.total).toBe(countConfigTransitions(m.config as Config));
      expect(r.transitions.taken + r.transitions.untaken.length).toBe(r.transitions.total);
    }
    expect(scheduled!.visited).toBeGreaterThan(0); // idle, in every agent
    expect(parameters!.unvisited).not.toContain('serverParameters.sampled'); // every agent samples
    expect(node!.transitions.taken).toBeGreaterThan(10);
    expect(election!.transitions.taken).toBeGreaterThan(10);
    expect(node!.transitions.untaken).not.toContain(
      'node.active.running.boot --always#0--> node.active.running.primary',
    );
    expect(election!.transitions.untaken).not.toContain(
      'election.leader.holding.idle --after(refreshInterval)--> election.leader.holding.refreshing',
    );
    const text = formatCoverage(report);
    expect(text).toMatch(/^node: states \d+\/\d+, transitions \d+\/\d+/);
    expect(text).toMatch(/^election: states \d+\/\d+, transitions \d+\/\d+/m);
    expect(text).toMatch(/^scheduledAction: states \d+\/4, transitions \d+\/13/m);
  });

  it('formats counts, then what was not visited; transitions not taken only when verbose', async () => {
    const coverage = new StateCoverage([tiny]);
    const actor = createActor(tiny, { inspect: coverage.inspect }).start();
    actor.send({ type: 'GO' });
    await tick();
    actor.stop();
    expect(formatCoverage(coverage.report())).toBe(
      'tiny: states 2/3, transitions 2/8 (0 transient states not counted)\n  states not visited: tiny.b',
    );
    expect(formatCoverage(coverage.report(), { verbose: true })).toBe(
      [
        'tiny: states 2/3, transitions 2/8 (0 transient states not counted)',
        '  states not visited: tiny.b',
        '  transitions not taken:',
        '    tiny',
        '      --RESET--> tiny.a',
        '    tiny.a',
        '      --GO#0--> tiny.b',
        '      --after(1000)--> tiny.b',
        '    tiny.b',
        '      --BACK--> tiny.a',
        '      --always--> tiny.c',
        '    tiny.c',
        '      --error(invoke#0)--> tiny.b',
      ].join('\n'),
    );
  });

  it('merges plain coverage data: two halves merged equal one run over both', async () => {
    const both = new StateCoverage();
    const first = new StateCoverage();
    const second = new StateCoverage();
    for (const seed of [3, 4]) await runSchedule({ seed, steps: 20, coverage: both });
    await runSchedule({ seed: 3, steps: 20, coverage: first });
    await runSchedule({ seed: 4, steps: 20, coverage: second });
    const merged = new StateCoverage();
    // As a worker thread would post it: structured-cloned plain data.
    merged.merge(structuredClone(first.toJSON()) as CoverageData);
    merged.merge(structuredClone(second.toJSON()) as CoverageData);
    expect(merged.toJSON()).toEqual(both.toJSON());
    expect(merged.report()).toEqual(both.report());
    expect(first.report()[0]!.transitions.taken).toBeLessThanOrEqual(both.report()[0]!.transitions.taken);
    // Merging is idempotent.
    merged.merge(first.toJSON());
    expect(merged.toJSON()).toEqual(both.toJSON());
  });
});
