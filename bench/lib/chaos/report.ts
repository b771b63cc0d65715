/**
 * The plain-text summary a person reads at the end of a chaos run (from checker.ts's report):
 * totals, lost writes one line each, split brain, outage per fault class, faults that did not
 * settle, and what it takes to replay the run. Safety first, availability after, verdict last.
 */
import { fmt } from '../table.ts';
import { type ChaosReport, faultName } from './checker.ts';

const secs = (ms: number | null) => (ms === null ? '—' : fmt(ms / 1000));
const at = (ms: number) => `${fmt(ms / 1000)} s`;
const pad = (x: string | number, n: number) => String(x).padStart(n);

/** Lines kept per list before "… and N more": a 2-hour run can lose hundreds of acks. */
const LIST_LIMIT = 50;

function capped(lines: string[], indent = '  '): string[] {
  const shown = lines.slice(0, LIST_LIMIT).map((l) => indent + l);
  if (lines.length > LIST_LIMIT) shown.push(`${indent}… and ${lines.length - LIST_LIMIT} more`);
  return shown;
}

export function formatReport(r: ChaosReport): string {
  const out: string[] = [];
  const mode = r.synchronous ? 'synchronous' : 'asynchronous';
  out.push(
    `chaos run: ${r.agent}, seed ${r.seed}, ${mode} replication, ${r.faults.length} faults, ${at(r.durationMs)}`,
    `  commit ${r.commit}, started ${r.startedAt}, nodes ${r.nodes.join(' ')}`,
    '',
  );

  // Totals.
  const c = r.counts;
  for (const g of ['multi', 'direct'] as const) {
    const n = c.attempts[g];
    out.push(`attempts ${g.padEnd(6)}: ok ${n.ok}, fail ${n.fail}, unknown ${n.unknown}`);
  }
  const perNode = Object.entries(c.acksPerNode).map(
    ([node, n]) => `${node} ${n.multi + n.direct} (multi ${n.multi}, direct ${n.direct})`,
  );
  out.push(`acks per node: ${perNode.join('; ') || 'none'}`);
  if (c.acksWithoutTimeline) out.push(`acks without a timeline: ${c.acksWithoutTimeline}`);
  out.push(
    r.final.read === null
      ? `final read: none (leader ${r.final.leader ?? 'none'} at ${at(r.final.at)})`
      : `final read: ${r.final.read} ids from ${r.final.leader ?? '?'} at ${at(r.final.at)}`,
  );
  if (r.unknown) {
    out.push(`unknown outcomes: ${r.unknown.present} committed after all, ${r.unknown.absent} not`);
  }
  out.push('');

  // Lost writes.
  if (r.lost === null) {
    out.push('lost acknowledged writes: NOT JUDGED (no final read from a leader)');
  } else {
    const bad = r.lost.filter((l) => !l.explained).length;
    out.push(
      `lost acknowledged writes: ${r.lost.length} (${r.lost.length - bad} explained, ${bad} unexplained;` +
        ` explained: from ${secs(r.lagMs)} s before a leader-losing fault on the acking node to ${secs(r.windowMs)} s after its heal)`,
    );
    out.push(...capped(r.lost.map((l) => l.line)));
  }
  if (r.failedButPresent.length) {
    out.push(`attempts recorded as failed but present: ${r.failedButPresent.length}`);
    out.push(...capped([r.failedButPresent.join(', ')]));
  }
  if (r.neverAttempted.length) out.push(`ids present that no client wrote: ${r.neverAttempted.join(', ')}`);
  out.push('');

  // Split brain.
  const sb = r.splitBrain;
  const staleCount = sb.stale.reduce((n, g) => n + g.ids.length, 0);
  out.push(`split brain (certain): ${staleCount ? `${staleCount} ack(s) on a stale timeline` : 'none'}`);
  out.push(
    ...capped(
      sb.stale.map(
        (g) =>
          `${g.node} on timeline ${g.timeline} acked ${g.ids.length} write(s) from ${at(g.first)} to ${at(g.last)}` +
          ` after ${g.newer.node} had acked id ${g.newer.id} on timeline ${g.newer.timeline} at ${at(g.newer.end)}` +
          ` (ids ${g.ids.slice(0, 5).join(', ')}${g.ids.length > 5 ? ', …' : ''})`,
      ),
    ),
  );
  out.push(`diverged timelines (two nodes, one number): ${sb.sameTimeline.length || 'none'}`);
  out.push(
    ...capped(
      sb.sameTimeline.map(
        (d) =>
          `timeline ${d.timeline}: ` +
          d.epochs.map((e) => `${e.node} ${e.acks} ack(s) ${at(e.first)}–${at(e.last)}`).join('; '),
      ),
    ),
  );
  out.push(`window overlaps (information): ${sb.overlaps.length || 'none'}`);
  out.push(
    ...capped(
      sb.overlaps.map(
        ({ a, b, overlapMs }) =>
          `${a.node} tl ${a.timeline} [${at(a.first)}, ${at(a.last)}] and ${b.node} tl ${b.timeline}` +
          ` [${at(b.first)}, ${at(b.last)}]: ${secs(overlapMs)} s`,
      ),
    ),
  );
  out.push('');

  // Availability.
  out.push('outage per fault class (longest stretch without a multi-client ack from the fault on, s):');
  out.push(
    `  ${'class'.padEnd(24)}${pad('n', 5)}${pad('median', 9)}${pad('max', 9)}${pad('not settled', 13)}${pad('no writes', 11)}`,
  );
  for (const k of r.classes) {
    out.push(
      `  ${k.kind.padEnd(24)}${pad(k.count, 5)}${pad(secs(k.medianMs), 9)}${pad(secs(k.maxMs), 9)}` +
        `${pad(k.notSettled, 13)}${pad(k.notResumed, 11)}`,
    );
  }
  const unsettled = r.faults.filter((f) => !f.settled);
  out.push(`faults that did not settle: ${unsettled.length || 'none'}`);
  out.push(
    ...capped(
      unsettled.map(
        (f) =>
          `${faultName(f)} at ${at(f.start)}: ` +
          (f.resumed
            ? `writes resumed, longest gap ${secs(f.outageMs)} s`
            : 'no multi-client ack afterwards'),
      ),
    ),
  );
  out.push('');

  // Replay and verdict.
  out.push(`replay: seed ${r.seed}, plan of ${r.plan.length}: ${JSON.stringify(r.plan)}`);
  out.push(r.problems.length ? `verdict: FAIL — ${r.problems.join('; ')}` : 'verdict: PASS');
  return out.join('\n');
}
