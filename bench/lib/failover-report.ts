/** The failover benchmark's tables: one row per run, and per class pgwarden beside Patroni. */
import type { AgentKind } from './agents.ts';
import type { RunResult } from './failover-run.ts';
import type { FailureClass } from './faults.ts';
import { type Column, fmt, groupedTable, median } from './table.ts';

const COLUMNS: Array<Column<RunResult>> = [
  { head: 'bootstrap s', get: (r) => r.bootstrapS },
  { head: 'fault delay s', get: (r) => r.delayBeforeFaultS },
  { head: 'fault→key gone s', get: (r) => r.leaderKeyGoneS },
  { head: 'fault→new key s', get: (r) => r.newLeaderKeyS },
  { head: 'fault→other node writable s', get: (r) => r.newWritableS },
  { head: 'fault→old last writable s', get: (r) => r.oldLastWritableS },
  { head: 'fault→kill/restart s', get: (r) => r.actionS },
  { head: 'write outage s', get: (r) => r.outageS },
  { head: 'two nodes writable s', get: (r) => r.twoWritableS },
  { head: 'acked by old while other writable', get: (r) => r.oldAcksWhileNewWritable, digits: 0 },
  { head: 'acked rows', get: (r) => r.ackedRows, digits: 0 },
  { head: 'lost acked (writer)', get: (r) => r.lostAckedRows, digits: 0 },
  { head: 'lost acked (probe)', get: (r) => r.lostProbeAcks, digits: 0 },
];

export function runTable(groups: Array<{ name: string; runs: RunResult[] }>): string {
  return groupedTable({
    groupHead: 'class / agent / profile',
    groups,
    columns: COLUMNS,
    text: [
      {
        head: 'old→writer acked on',
        get: (r) =>
          r.ok ? `${r.oldPrimary}→${r.writerNodesAfterFault.join('→') || '—'}` : `FAILED: ${r.failure}`,
      },
      {
        head: 'writable after fault (probe)',
        get: (r) => Object.keys(r.writableAfterFault).join(', ') || '—',
      },
    ],
  });
}

/** Median of `get` over the successful runs; with `range`, also min–max. */
function med(runs: RunResult[], get: (r: RunResult) => number | null, digits = 2): string {
  const xs = runs
    .filter((r) => r.ok)
    .map(get)
    .filter((x): x is number => x !== null);
  if (xs.length === 0) return '—';
  const m = fmt(median(xs), digits);
  return xs.length > 1 ? `${m} (${fmt(Math.min(...xs), digits)}–${fmt(Math.max(...xs), digits)})` : m;
}

function ratio(a: RunResult[], b: RunResult[], get: (r: RunResult) => number | null): string {
  const m = (rs: RunResult[]) =>
    median(
      rs
        .filter((r) => r.ok)
        .map(get)
        .filter((x): x is number => x !== null),
    );
  const pa = m(a);
  const pb = m(b);
  return pa !== null && pb !== null && pb > 0 ? `${(pa / pb).toFixed(2)}×` : '—';
}

/** Per class and profile: medians (min–max) for pgwarden and Patroni, and Patroni ÷ pgwarden. */
export function classTable(results: RunResult[], classes: FailureClass[], profiles: string[]): string {
  const head = [
    'class',
    'profile',
    'agent',
    'runs ok',
    'write outage s',
    'fault→new key s',
    'two nodes writable s',
    'acked by old while other writable',
    'lost acked (writer + probe)',
  ];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const cls of classes) {
    for (const profile of profiles) {
      const of = (agent: AgentKind) =>
        results.filter((r) => r.cls === cls && r.profile === profile && r.agent === agent);
      const pg = of('pgwarden');
      const fast = of('pgwarden-fast');
      const noFast = of('pgwarden-no-fast');
      const pa = of('patroni');
      for (const [agent, runs] of [
        ['pgwarden (defaults)', pg],
        ['pgwarden, fast failover', fast],
        ['pgwarden, fast failover off', noFast],
        ['Patroni 3.0.2', pa],
      ] as const) {
        if (runs.length === 0) continue;
        lines.push(
          `| ${cls} | ${profile} | ${agent} | ${runs.filter((r) => r.ok).length}/${runs.length} | ${med(runs, (r) => r.outageS)} | ${med(runs, (r) => r.newLeaderKeyS)} | ${med(runs, (r) => r.twoWritableS)} | ${med(runs, (r) => r.oldAcksWhileNewWritable, 0)} | ${med(runs, (r) => (r.lostAckedRows ?? 0) + (r.lostProbeAcks ?? 0), 0)} |`,
        );
      }
      if (pg.length > 0 && pa.length > 0) {
        lines.push(
          `| ${cls} | ${profile} | **Patroni ÷ pgwarden** | | ${ratio(pa, pg, (r) => r.outageS)} | ${ratio(pa, pg, (r) => r.newLeaderKeyS)} | ${ratio(pa, pg, (r) => r.twoWritableS)} | | |`,
        );
      }
      if (fast.length > 0 && pa.length > 0) {
        lines.push(
          `| ${cls} | ${profile} | **Patroni ÷ pgwarden fast** | | ${ratio(pa, fast, (r) => r.outageS)} | ${ratio(pa, fast, (r) => r.newLeaderKeyS)} | ${ratio(pa, fast, (r) => r.twoWritableS)} | | |`,
        );
      }
    }
  }
  return lines.join('\n');
}
