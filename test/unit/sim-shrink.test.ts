import { describe, expect, it } from 'vitest';
import type { Invariant } from '../../src/testing/invariants/index.ts';
import { runSchedule } from '../../src/testing/runner/index.ts';
import { parseSchedule } from '../../src/testing/schedule/index.ts';
import { formatShrunkFailure, shrinkFailure } from '../../src/testing/shrink.ts';

const NAMES = ['node1', 'node2', 'node3'];

/** Breaks while node2's agent is down: only the kill of node2 matters. */
const node2Alive: Invariant = {
  name: 'node2-alive',
  check: ({ cluster }) => (cluster.node('node2').alive() ? null : 'node2 is down'),
};

describe('shrinking a failing schedule', () => {
  it('keeps only the actions the failure needs, and prints the command that replays them', async () => {
    const schedule = parseSchedule(
      '1:dcs-latency:100,2:partition:node1:node3,3:freeze:node1,4:thaw:node1,5:kill:node2,6:crash-postgres:node3,8:heal:node1:node3',
      NAMES,
    );
    const opts = { nodes: 3, steps: 12, extraInvariants: [node2Alive] };
    const failed = await runSchedule({ ...opts, seed: 5, schedule });
    expect(failed.violations[0]).toMatchObject({ step: 5, invariant: 'node2-alive' });
    expect(failed.schedule).toHaveLength(5);

    const shrunk = await shrinkFailure(failed, opts);
    expect(shrunk.schedule).toEqual([{ step: 5, kind: 'kill', node: 'node2' }]);
    expect(shrunk.result.violations[0]?.invariant).toBe('node2-alive');
    expect(shrunk.runs).toBeLessThanOrEqual(120);
    const text = formatShrunkFailure(failed, shrunk);
    expect(text).toContain('minimal schedule: 1 of 5 action(s) still break node2-alive');
    expect(text).toContain('    step 5: kill node2');
    expect(text).toContain(
      "replay minimal: pgwarden sim --seed 5 --nodes 3 --steps 6 --schedule '5:kill:node2'",
    );
  });

  it('a failure that needs two actions keeps both', async () => {
    const both: Invariant = {
      name: 'node1-frozen-and-dcs-down',
      check: ({ cluster }) =>
        cluster.node('node1').frozen() && !cluster.store.isAvailable()
          ? 'node1 frozen while etcd is down'
          : null,
    };
    const schedule = parseSchedule(
      '1:dcs-down,2:partition:node2:node3,3:crash-postgres:node2,4:freeze:node1,5:kill:node3',
      NAMES,
    );
    const opts = { nodes: 3, steps: 10, extraInvariants: [both] };
    const failed = await runSchedule({ ...opts, seed: 2, schedule });
    expect(failed.ok).toBe(false);
    const shrunk = await shrinkFailure(failed, opts);
    expect(shrunk.schedule).toEqual([
      { step: 1, kind: 'dcs-down' },
      { step: 4, kind: 'freeze', node: 'node1' },
    ]);
  });
});
