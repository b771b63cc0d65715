/** What `pgwarden replay` prints: the summary, or the first divergence with its guard outcomes. */
import type { GuardOutcome } from '../actors/guard-trace.ts';
import type { Divergence, ReplayReport } from './replay.ts';
import { stateText } from './state-text.ts';

export function formatSummary(report: ReplayReport, nodes: number): string {
  const pct = report.transitions === 0 ? 100 : (100 * report.reproduced) / report.transitions;
  const lines = [
    `${report.events} events, ${report.transitions} transitions, ${formatPercent(pct)} % reproduced (${nodes} node${nodes === 1 ? '' : 's'})`,
  ];
  if (report.skipped.length > 0)
    lines.push(`not replayed (started before the journal begins): ${report.skipped.join(', ')}`);
  for (const w of report.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n');
}

function formatPercent(p: number): string {
  return p === 100 ? '100' : p.toFixed(1);
}

export function formatDivergence(d: Divergence): string {
  const lines = [
    `divergence: ${d.node} ${d.actor} at ${new Date(d.t).toISOString()}: ${d.why}`,
    `  event     ${d.event.type}  ${short(JSON.stringify(d.event), 300)}`,
    `  expected  ${d.expected === null ? '(no transition)' : stateText(d.expected)}`,
    `  actual    ${stateText(d.actual)}`,
  ];
  const guards = guardTable(d.recordedGuards, d.replayedGuards);
  if (guards.length > 0)
    lines.push('  guards    recorded → replayed', ...guards.map((g) => `            ${g}`));
  return lines.join('\n');
}

/** Guard outcomes side by side, the ones that differ marked. */
function guardTable(recorded: GuardOutcome[] | undefined, replayed: GuardOutcome[] | undefined): string[] {
  const n = Math.max(recorded?.length ?? 0, replayed?.length ?? 0);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const a = recorded?.[i];
    const b = replayed?.[i];
    const left = a ? `${a[0]} ${a[1] ? '✓' : '✗'}` : recorded ? '—' : '(not recorded)';
    const right = b ? `${b[0]} ${b[1] ? '✓' : '✗'}` : '—';
    const differs = recorded !== undefined && (a?.[0] !== b?.[0] || a?.[1] !== b?.[1]);
    out.push(`${left} → ${right}${differs ? '   ◀ differs' : ''}`);
  }
  return out;
}

function short(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
