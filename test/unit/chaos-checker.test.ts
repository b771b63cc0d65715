/**
 * The chaos checker on hand-made runs: each invariant is shown holding on a clean run and failing
 * on one with the fault planted.
 */
import { describe, expect, it } from 'vitest';
import { analyse } from '../../bench/lib/chaos/checker.ts';
import { formatReport } from '../../bench/lib/chaos/report.ts';
import type { Attempt, FaultKind, FaultRecord, RunRecord } from '../../bench/lib/chaos/types.ts';

let nextId = 1;

/** Acks by `node` on `timeline` every `every` ms in [from, to): each takes 5 ms. */
function acks(
  node: string,
  timeline: number,
  from: number,
  to: number,
  every = 100,
  group: Attempt['group'] = 'multi',
) {
  const out: Attempt[] = [];
  for (let t = from; t < to; t += every) {
    out.push({
      id: nextId++,
      client: `${group}-1`,
      group,
      node,
      start: t,
      end: t + 5,
      outcome: 'ok',
      timeline,
    });
  }
  return out;
}

function fault(
  seq: number,
  kind: FaultKind,
  target: string | null,
  start: number,
  healed: number | null,
  settled: number | null,
): FaultRecord {
  return {
    seq,
    kind,
    target,
    targetRole: target ? 'leader' : 'cluster',
    holdMs: healed === null ? 0 : healed - start,
    start,
    healed,
    settled,
    notes: {},
  };
}

/** A run whose final read holds every acknowledged id unless `drop` says otherwise. */
function run(
  attempts: Attempt[],
  faults: FaultRecord[],
  over: Partial<RunRecord> & { drop?: number[] } = {},
): RunRecord {
  const { drop = [], ...rest } = over;
  const ids = attempts.filter((a) => a.outcome === 'ok' && !drop.includes(a.id)).map((a) => a.id);
  return {
    agent: 'pgwarden',
    seed: 42,
    synchronous: false,
    dcs: { ttl: 30, loop_wait: 10 },
    nodes: ['pg1', 'pg2', 'pg3'],
    plan: faults.map((f) => ({ kind: f.kind, holdMs: f.holdMs, pick: 0 })),
    faults,
    attempts,
    roles: [],
    final: { leader: 'pg2', ids, at: 61_000 },
    startedAt: '2026-12-03T19:00:00Z',
    commit: 'abc1234',
    durationMs: 62_000,
    ...rest,
  };
}

/** pg1 leads on timeline 1 until it is killed at 10 s; pg2 writes on timeline 2 from 18 s. */
function handover() {
  const before = acks('pg1', 1, 0, 10_000);
  const after = acks('pg2', 2, 18_000, 60_000);
  const kill = fault(1, 'kill-node', 'pg1', 10_000, 20_000, 25_000);
  return { before, after, kill };
}

describe('split brain', () => {
  it('a clean handover has none', () => {
    const { before, after, kill } = handover();
    const r = analyse(run([...before, ...after], [kill]));
    expect(r.splitBrain.stale).toEqual([]);
    expect(r.splitBrain.sameTimeline).toEqual([]);
    expect(r.splitBrain.overlaps).toEqual([]);
    expect(r.lost).toEqual([]);
    expect(r.problems).toEqual([]);
    expect(formatReport(r)).toContain('verdict: PASS');
  });

  it('catches an old primary acknowledging after a newer timeline had acknowledged', () => {
    const { before, after } = handover();
    // A client pinned to pg1 gets an ack on timeline 1 at 20 s, after pg2's first ack (18 s).
    const stale = acks('pg1', 1, 20_000, 20_300, 100, 'direct');
    const r = analyse(
      run([...before, ...after, ...stale], [fault(1, 'kill-agent', 'pg1', 10_000, 20_000, 25_000)]),
    );
    expect(r.splitBrain.stale).toHaveLength(1);
    expect(r.splitBrain.stale[0]).toMatchObject({ node: 'pg1', timeline: 1, ids: stale.map((a) => a.id) });
    expect(r.splitBrain.stale[0]!.newer).toMatchObject({ node: 'pg2', timeline: 2, id: after[0]!.id });
    expect(r.flaggedIds).toEqual(stale.map((a) => a.id));
    expect(r.problems.join()).toContain('split brain: 3 ack(s) on a stale timeline');
    expect(formatReport(r)).toContain('verdict: FAIL');
  });

  it('an old ack still in flight when the new primary answered is only a window overlap', () => {
    const { before, after, kill } = handover();
    // Started before pg2's first ack ended: the order of the two commits is not known.
    const slow: Attempt = { ...before[0]!, id: nextId++, start: 18_003, end: 18_500 };
    const r = analyse(run([...before, slow, ...after], [kill]));
    expect(r.splitBrain.stale).toEqual([]);
    expect(r.splitBrain.overlaps).toHaveLength(1);
    expect(r.splitBrain.overlaps[0]!.overlapMs).toBe(500);
    expect(r.problems).toEqual([]);
  });

  it('catches two nodes acknowledging on the same timeline number', () => {
    const { before, after, kill } = handover();
    const twin = acks('pg3', 2, 40_000, 41_000);
    const r = analyse(run([...before, ...after, ...twin], [kill]));
    expect(r.splitBrain.sameTimeline).toHaveLength(1);
    expect(r.splitBrain.sameTimeline[0]!.timeline).toBe(2);
    expect(r.splitBrain.sameTimeline[0]!.epochs.map((e) => e.node)).toEqual(['pg2', 'pg3']);
    expect(r.flaggedIds).toEqual(twin.map((a) => a.id)); // the later of the two
    expect(r.problems.join()).toContain('diverged timelines: 2');
  });
});

describe('lost writes', () => {
  it('a lost ack right before its node was killed, with a higher timeline after, is explained', () => {
    const { before, after, kill } = handover();
    const last = before.at(-1)!; // acked at 9.905 s, killed at 10 s
    const r = analyse(run([...before, ...after], [kill], { drop: [last.id] }));
    expect(r.lost).toHaveLength(1);
    expect(r.lost![0]).toMatchObject({ id: last.id, explained: true, fault: 1 });
    expect(r.lost![0]!.takeover).toMatchObject({ node: 'pg2', timeline: 2, via: 'ack' });
    expect(r.lost![0]!.line).toContain('0.10 s before #1 kill-node pg1');
    expect(r.lost![0]!.line).toContain('pg2 acked on timeline 2 from 18.0');
    expect(r.problems).toEqual([]);
    expect(formatReport(r)).toContain('1 explained, 0 unexplained');
  });

  it('a lost ack with no fault is unexplained', () => {
    const { before, after } = handover();
    const lost = before[3]!;
    const r = analyse(run([...before, ...after], [], { drop: [lost.id] }));
    expect(r.lost![0]).toMatchObject({ id: lost.id, explained: false });
    expect(r.lost![0]!.line).toContain('UNEXPLAINED');
    expect(r.flaggedIds).toEqual([lost.id]);
    expect(r.problems).toEqual(['1 unexplained lost write(s)']);
  });

  it('a loss near a switchover, or seconds before the kill, or in a synchronous run, is unexplained', () => {
    const { before, after, kill } = handover();
    const last = before.at(-1)!;
    const switchover = fault(1, 'switchover', 'pg1', 10_000, null, 12_000);
    expect(analyse(run([...before, ...after], [switchover], { drop: [last.id] })).lost![0]!.explained).toBe(
      false,
    );
    const early = analyse(run([...before, ...after], [kill], { drop: [before[40]!.id] })); // 6 s before
    expect(early.lost![0]!.line).toContain('UNEXPLAINED (no fault on pg1 began within 5.00 s after it');
    const lenient = analyse(run([...before, ...after], [kill], { drop: [before[40]!.id] }), { lagMs: 7000 });
    expect(lenient.lost![0]!.line).toContain('6.00 s before #1 kill-node pg1');
    const sync = analyse(run([...before, ...after], [kill], { drop: [last.id], synchronous: true }));
    expect(sync.lost![0]!.line).toContain('UNEXPLAINED (synchronous run');
  });

  it('a loss with no other node ever writing on a higher timeline is unexplained', () => {
    const { before, kill } = handover();
    const same = acks('pg1', 1, 30_000, 31_000); // pg1 came back on the same timeline
    const r = analyse(run([...before, ...same], [kill], { drop: [before.at(-1)!.id] }));
    expect(r.lost![0]!.explained).toBe(false);
    expect(r.lost![0]!.line).toContain('no other node acked on a higher timeline');
  });

  it('without a final read, loss is not judged', () => {
    const { before, after, kill } = handover();
    const r = analyse(run([...before, ...after], [kill], { final: { leader: null, ids: null, at: 61_000 } }));
    expect(r.lost).toBeNull();
    expect(r.problems).toEqual(['no final read: loss not judged']);
    expect(formatReport(r)).toContain('NOT JUDGED');
  });

  it('an attempt recorded as failed that is present shows the workload was wrong to be sure', () => {
    const { before, after, kill } = handover();
    const failed: Attempt = {
      id: nextId++,
      client: 'multi-1',
      group: 'multi',
      node: 'pg1',
      start: 9950,
      end: 9990,
      outcome: 'fail',
      error: '57P01',
    };
    const rec = run([...before, failed, ...after], [kill]);
    rec.final.ids!.push(failed.id);
    const r = analyse(rec);
    expect(r.failedButPresent).toEqual([failed.id]);
    expect(r.problems.join()).toContain('recorded as failed are present');
  });
});

describe('outage per fault', () => {
  it('is the longest stretch without a multi ack from the fault on, per class', () => {
    const attempts = [
      ...acks('pg1', 1, 0, 10_000),
      ...acks('pg2', 2, 18_000, 30_000), // kill #1 at 10 s: first ack 18.005 s
      ...acks('pg3', 3, 33_000, 45_000), // kill #2 at 30 s: first ack 33.005 s
      ...acks('pg3', 3, 52_000, 60_000), // freeze #3 at 45 s of a replica: first ack 52.005
      ...acks('pg1', 1, 20_000, 21_000, 100, 'direct'), // direct acks do not end an outage
    ];
    const faults = [
      fault(1, 'kill-node', 'pg1', 10_000, 20_000, 25_000),
      fault(2, 'kill-node', 'pg2', 30_000, 31_000, 32_000),
      fault(3, 'freeze-node', 'pg1', 45_000, 47_000, null),
    ];
    const r = analyse(run(attempts, faults));
    expect(r.faults.map((f) => Math.round(f.outageMs))).toEqual([8005, 3005, 7005]);
    expect(r.faults[0]).toMatchObject({ from: 10_000, to: 18_005, resumed: true, settled: true });
    expect(r.faults[2]).toMatchObject({ settled: false, until: 59_905 }); // the workload's end
    expect(r.classes).toEqual([
      { kind: 'freeze-node', count: 1, medianMs: 7005, maxMs: 7005, notSettled: 1, notResumed: 0 },
      { kind: 'kill-node', count: 2, medianMs: 5505, maxMs: 8005, notSettled: 0, notResumed: 0 },
    ]);
    const text = formatReport(r);
    expect(text).toMatch(/kill-node\s+2\s+5\.5\d\s+8\.01\s+0\s+0/);
    expect(text).toContain('#3 freeze-node pg1 at 45.00 s: writes resumed');
  });

  it('is the write spacing when the fault costs nothing, and runs to the interval end when writes never come back', () => {
    const attempts = acks('pg1', 1, 0, 10_000);
    const r = analyse(run(attempts, [fault(1, 'etcd-majority-lost', null, 5000, 8000, 9000)]));
    expect(r.faults[0]).toMatchObject({ resumed: true, outageMs: 100 });
    // After the kill the clients only fail, until the workload stops at 20 s.
    const fails: Attempt[] = [10_000, 15_000, 20_000].map((t) => ({
      id: nextId++,
      client: 'multi-1',
      group: 'multi',
      node: null,
      start: t - 1000,
      end: t,
      outcome: 'fail',
      error: 'no writable node',
    }));
    const dead = analyse(run([...attempts, ...fails], [fault(1, 'kill-node', 'pg1', 10_000, null, null)]));
    expect(dead.faults[0]).toMatchObject({ resumed: false, from: 10_000, to: 20_000, outageMs: 10_000 });
    expect(dead.classes[0]).toMatchObject({ notSettled: 1, notResumed: 1 });
    expect(formatReport(dead)).toContain('#1 kill-node pg1 at 10.00 s: no multi-client ack afterwards');
  });
});

describe('counts', () => {
  it('by group and outcome, and acks per node', () => {
    const { before, after, kill } = handover();
    const unknown: Attempt = {
      id: nextId++,
      client: 'direct-pg1',
      group: 'direct',
      node: 'pg1',
      start: 10_000,
      end: 12_000,
      outcome: 'unknown',
      error: 'Query read timeout',
    };
    const r = analyse(run([...before, ...after, unknown], [kill]));
    expect(r.counts.attempts).toEqual({
      multi: { ok: before.length + after.length, fail: 0, unknown: 0 },
      direct: { ok: 0, fail: 0, unknown: 1 },
    });
    expect(r.counts.acksPerNode).toEqual({
      pg1: { multi: 100, direct: 0 },
      pg2: { multi: 420, direct: 0 },
      pg3: { multi: 0, direct: 0 },
    });
    expect(r.unknown).toEqual({ present: 0, absent: 1 });
  });
});
