/**
 * What a chaos run keeps in bench/results/: the checker's report without the attempts (a long
 * run records hundreds of thousands), with a verdict; and the per-class table over many such
 * summaries, pgwarden beside Patroni, for bench/README.md.
 */
import { fmt, median } from '../table.ts';
import type { ChaosReport } from './checker.ts';
import type { FaultKind, RunRecord } from './types.ts';

export interface Summary extends ChaosReport {
  label: string;
  /** ok: nothing lost without explanation, no split brain, every fault settled. */
  verdict: 'ok' | 'problems';
  dcs: RunRecord['dcs'];
  faultRecords: RunRecord['faults'];
  /** The machine's load average when the run began and when it ended (other runs share the cores). */
  load?: { start: unknown; end: unknown };
}

export function summarise(run: RunRecord, report: ChaosReport, label: string): Summary {
  return {
    ...report,
    label,
    verdict: report.problems.length === 0 ? 'ok' : 'problems',
    dcs: run.dcs,
    faultRecords: run.faults,
  };
}

interface Cell {
  outages: number[];
  notSettled: number;
}

/** The kind of the fault in progress, or last begun, at `at` (ms into the run). */
function faultKindAt(s: Summary, at: number): FaultKind | null {
  let kind: FaultKind | null = null;
  for (const f of s.faults) if (f.start <= at) kind = f.kind;
  return kind;
}

/** Acknowledged writes lost, and acknowledged on a stale timeline, per fault class at the ack. */
function harmByClass(runs: Summary[]): Map<FaultKind, { lost: number; stale: number }> {
  const out = new Map<FaultKind, { lost: number; stale: number }>();
  const add = (kind: FaultKind | null, key: 'lost' | 'stale', n: number) => {
    if (kind === null) return;
    const cell = out.get(kind) ?? { lost: 0, stale: 0 };
    cell[key] += n;
    out.set(kind, cell);
  };
  for (const s of runs) {
    for (const l of s.lost ?? []) add(faultKindAt(s, l.ackedAt), 'lost', 1);
    for (const g of s.splitBrain.stale) add(faultKindAt(s, g.first), 'stale', g.ids.length);
  }
  return out;
}

const secs = (ms: number | null) => (ms === null ? '–' : fmt(ms / 1000, 1));

/**
 * One row per fault class and one column group per agent and replication mode: how many faults,
 * the median and the largest write outage over every fault of that class in every run given; then
 * the whole runs' lost and overlapping writes.
 */
export function classTable(summaries: Summary[]): string {
  const groups = new Map<string, Summary[]>();
  for (const s of summaries) {
    const key = `${s.agent} ${s.synchronous ? 'sync' : 'async'}`;
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  const keys = [...groups.keys()].sort();
  const kinds = [...new Set(summaries.flatMap((s) => s.faults.map((f) => f.kind)))].sort() as FaultKind[];
  const head = `| fault class | ${keys.map((k) => `${k}: n · median (per run) · max outage (s); writes lost, stale`).join(' | ')} |`;
  const rule = `|---|${keys.map(() => '---|').join('')}`;
  const harm = new Map(keys.map((k) => [k, harmByClass(groups.get(k)!)]));
  const rows = kinds.map((kind) => {
    const cells = keys.map((k) => {
      const cell: Cell = { outages: [], notSettled: 0 };
      for (const s of groups.get(k)!)
        for (const f of s.faults.filter((x) => x.kind === kind)) {
          cell.outages.push(f.outageMs);
          if (!f.settled) cell.notSettled++;
        }
      if (cell.outages.length === 0) return '–';
      const unsettled = cell.notSettled > 0 ? ` (${cell.notSettled} did not settle)` : '';
      // Pooled over the runs, then each run's own median: how much repeated runs agree.
      const perRun = groups
        .get(k)!
        .map((s) => s.faults.filter((x) => x.kind === kind).map((f) => f.outageMs))
        .filter((o) => o.length > 0)
        .map((o) => secs(median(o)));
      const runs = perRun.length > 1 ? ` (${perRun.join(', ')})` : '';
      const h = harm.get(k)!.get(kind);
      const harmed = h ? `${h.lost ? `; ${h.lost} lost` : ''}${h.stale ? `; ${h.stale} stale` : ''}` : '';
      return `${cell.outages.length} · ${secs(median(cell.outages))}${runs} · ${secs(Math.max(...cell.outages))}${unsettled}${harmed}`;
    });
    return `| ${kind} | ${cells.join(' | ')} |`;
  });
  const total = (k: string, f: (s: Summary) => number) => groups.get(k)!.reduce((n, s) => n + f(s), 0);
  const lostLine = keys.map((k) => {
    const lost = total(k, (s) => s.lost?.length ?? 0);
    const unexplained = total(k, (s) => s.lost?.filter((l) => !l.explained).length ?? 0);
    return `${lost} (${unexplained} unexplained)`;
  });
  const overlapLine = keys.map((k) => {
    const acks = total(k, (s) => s.splitBrain.stale.reduce((n, g) => n + g.ids.length, 0));
    const windows = total(k, (s) => s.splitBrain.stale.length);
    const reused = total(k, (s) => s.splitBrain.sameTimeline.length);
    return acks + reused === 0
      ? '0'
      : `${acks} acks on a stale timeline (${windows} windows); ${reused} timeline numbers used by two nodes`;
  });
  const runsLine = keys.map((k) => {
    const runs = groups.get(k)!;
    const acks = total(k, (s) => s.counts.attempts.multi.ok + s.counts.attempts.direct.ok);
    return `${runs.length} runs, ${total(k, (s) => s.faults.length)} faults, ${acks} acks; ${[...new Set(runs.map((s) => s.commit.slice(0, 7)))].join(', ')}`;
  });
  return [
    head,
    rule,
    ...rows,
    `| acknowledged writes lost | ${lostLine.join(' | ')} |`,
    `| writes acknowledged by two nodes at once | ${overlapLine.join(' | ')} |`,
    `| runs, faults, acks; commit | ${runsLine.join(' | ')} |`,
  ].join('\n');
}
