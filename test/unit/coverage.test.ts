import { describe, expect, it } from 'vitest';
import { electionMachine } from '../../src/machines/election.ts';
import { nodeMachine } from '../../src/machines/node.ts';
import {
  activeStateIds,
  allStateIds,
  formatCoverage,
  StateCoverage,
  transientStateIds,
} from '../../src/testing/coverage.ts';
import { runSchedule } from '../../src/testing/runner.ts';

describe('state coverage of simulated runs', () => {
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

  it('records what seeded runs visit and lists the rest', async () => {
    const coverage = new StateCoverage();
    for (const seed of [1, 2]) await runSchedule({ seed, nodes: 3, steps: 30, coverage });
    const [node, election] = coverage.report();
    expect(node!.machine).toBe('node');
    expect(node!.unvisited).not.toContain('node.active.running.primary');
    expect(node!.unvisited).not.toContain('node.active.running.replica');
    expect(node!.unvisited).toContain('node.active.running.switchingOver.checkpointing'); // no operator in the runner
    expect(node!.unvisited).not.toContain('node.active.running.boot'); // transient: not counted at all
    expect(node!.visited + node!.unvisited.length).toBe(node!.total);
    expect(election!.unvisited).not.toContain('election.leader.holding.idle');
    expect(formatCoverage(coverage.report())).toMatch(/^node: \d+\/\d+ states visited/);
  });
});
