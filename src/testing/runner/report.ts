/**
 * What a run prints: its one-line summary (the lines `pgwarden sim` compares across changes),
 * a failure with the schedule up to the failing step, and the command that replays it.
 */
import { describeAction } from '../schedule/index.ts';
import type { RunResult } from './types.ts';

export function replayCommand(o: RunResult['options']): string {
  let cmd = `pgwarden sim --seed ${o.seed} --nodes ${o.nodes} --steps ${o.steps}`;
  if (o.stepMs !== 5000) cmd += ` --step-ms ${o.stepMs}`;
  if (o.ttl !== 30) cmd += ` --ttl ${o.ttl}`;
  if (o.synchronousMode) cmd += ' --sync';
  if (o.failsafeMode) cmd += ' --failsafe';
  if (o.watchdog) cmd += ' --watchdog';
  if (!o.fastFailover) cmd += ' --no-fast-failover';
  if (!o.checkHeal) cmd += ' --no-check-heal';
  if (o.schedule !== null) cmd += ` --schedule '${o.schedule}'`;
  return cmd;
}

/** What a failing run prints: seed, schedule up to the failing step, replay command. */
export function formatFailure(r: RunResult): string {
  const lines = [`seed ${r.seed}: ${r.violations.length} violation(s)`];
  for (const v of r.violations) {
    lines.push(`  step ${v.step} (${(v.at / 1000).toFixed(1)} s virtual): ${v.invariant}: ${v.detail}`);
  }
  lines.push(`  schedule up to step ${r.violations[0]?.step ?? r.options.steps}:`);
  if (r.schedule.length === 0) lines.push('    (no faults, no requests)');
  for (const f of r.schedule) lines.push(`    ${describeAction(f)}`);
  lines.push(`  replay: ${r.replay}`);
  return lines.join('\n');
}

export function formatSummary(r: RunResult): string {
  const s = r.stats;
  return `seed ${r.seed}: ${r.ok ? 'ok' : 'FAIL'} faults=${s.faults} requests=${s.requests} writes=${s.writes} acked=${s.acknowledged} leader_changes=${s.leaderChanges} heal_ms=${s.healMs ?? '-'}${s.orphanWritableMs > 0 ? ` orphan_writable_ms=${s.orphanWritableMs} (longest ${s.orphanWritableLongestMs})` : ''}${s.unfenced.windows > 0 ? ` unfenced=${s.unfenced.windows}/${(s.unfenced.longestMs / 1000).toFixed(1)}s` : ''} virtual_s=${(s.virtualMs / 1000).toFixed(0)}`;
}
