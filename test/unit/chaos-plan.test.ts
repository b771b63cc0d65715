/** The chaos harness's pure parts around a run: the seeded plan and the per-class table. */
import { describe, expect, it } from 'vitest';
import { analyse } from '../../bench/lib/chaos/checker.ts';
import { drawPlan, FAULT_KINDS } from '../../bench/lib/chaos/faults.ts';
import { classTable, summarise } from '../../bench/lib/chaos/summary.ts';
import { syntheticRun } from '../helpers/chaos-run.ts';

describe('drawPlan', () => {
  it('gives the same plan for the same seed and a different one for another', () => {
    const a = drawPlan(7, 50, FAULT_KINDS, 25_000);
    expect(drawPlan(7, 50, FAULT_KINDS, 25_000)).toEqual(a);
    expect(drawPlan(8, 50, FAULT_KINDS, 25_000)).not.toEqual(a);
  });

  it('holds faults 1 s to the maximum, operator actions not at all, picks in [0, 1)', () => {
    const plan = drawPlan(3, 500, FAULT_KINDS, 20_000);
    for (const f of plan) {
      if (['switchover', 'restart', 'patch-config'].includes(f.kind)) expect(f.holdMs).toBe(0);
      else expect(f.holdMs).toBeGreaterThanOrEqual(1000);
      expect(f.holdMs).toBeLessThan(20_000);
      expect(f.pick).toBeGreaterThanOrEqual(0);
      expect(f.pick).toBeLessThan(1);
    }
    // Every class is drawn in a long plan, and only the classes asked for.
    expect(new Set(plan.map((f) => f.kind))).toEqual(new Set(FAULT_KINDS));
    expect(new Set(drawPlan(3, 50, ['kill-node', 'switchover'], 20_000).map((f) => f.kind))).toEqual(
      new Set(['kill-node', 'switchover']),
    );
  });
});

describe('classTable', () => {
  it('puts each agent and mode in its own columns and counts losses and overlaps over runs', () => {
    const clean = syntheticRun({ durationS: 300, faults: 8, seed: 1 });
    const planted = syntheticRun({ durationS: 300, faults: 8, seed: 1, plant: true });
    const s1 = summarise(clean, analyse(clean), 't');
    const s2 = summarise(planted, analyse(planted), 't');
    // A fault that never settled is a problem too, even with nothing lost.
    const unsettled = clean.faults.filter((f) => f.settled === null).length;
    expect(unsettled).toBeGreaterThan(0);
    expect(s1.verdict).toBe('problems');
    expect(s1.problems).toEqual([expect.stringMatching(`^${unsettled} fault\\(s\\) did not settle: #`)]);
    expect(s2.verdict).toBe('problems');
    const patroni = { ...s1, agent: 'patroni' as const };
    const table = classTable([s1, s2, patroni]);
    const lines = table.split('\n');
    expect(lines[0]).toContain('patroni async');
    expect(lines[0]).toContain('pgwarden async');
    const lost = lines.find((l) => l.startsWith('| acknowledged writes lost'))!;
    const overlap = lines.find((l) => l.startsWith('| writes acknowledged by two nodes'))!;
    // Columns sorted: patroni async, then pgwarden async (the two pgwarden runs summed).
    const cells = (l: string) =>
      l
        .split('|')
        .slice(2, -1)
        .map((c) => c.trim());
    expect(cells(lost)[0]).toBe('0 (0 unexplained)');
    expect(cells(lost)[1]).not.toBe('0 (0 unexplained)');
    expect(cells(overlap)[0]).toBe('0');
    expect(cells(overlap)[1]).toMatch(
      /^[1-9]\d* acks on a stale timeline \(\d+ windows\); \d+ timeline numbers/,
    );
    // The harm shows in the row of the fault class at the time of the ack.
    const classRowsWithHarm = lines.filter((l) => /^\| [a-z-]+ \| /.test(l) && /\d+ (lost|stale)/.test(l));
    expect(classRowsWithHarm.length).toBeGreaterThan(0);
    expect(classRowsWithHarm.every((l) => !/\d+ (lost|stale)/.test(cells(l)[0]!))).toBe(true);
    expect(lines.find((l) => l.startsWith('| runs'))).toContain('2 runs');
    // A column of two runs shows each run's median beside the pooled one; one run shows none.
    const classRows = lines.filter((l) => /^\| [a-z-]+ \| \d/.test(l)).map(cells);
    expect(classRows.some((c) => /^\d+ · [\d.]+ \([\d.]+, [\d.]+\) · [\d.]+/.test(c[1]!))).toBe(true);
    expect(classRows.every((c) => c[0] === '–' || /^\d+ · [\d.]+ · [\d.]+/.test(c[0]!))).toBe(true);
  });
});
