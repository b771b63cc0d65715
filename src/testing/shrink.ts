/**
 * Shrinking a failing schedule: drop actions (halves first, then ever smaller chunks, as in
 * delta debugging) for as long as the run still breaks the same invariant, so that a failure
 * reads as the few faults that cause it, with the command that replays exactly those.
 */
import {
  formatFailure,
  type RunOptions,
  type RunResult,
  replayCommand,
  runSchedule,
} from './runner/index.ts';
import { describeAction, formatSchedule, type ScheduleAction } from './schedule/index.ts';

export interface ShrinkResult {
  /** The smallest failing schedule found. */
  schedule: ScheduleAction[];
  /** How many runs the search took (bounded by maxRuns). */
  runs: number;
  /** The run of `schedule`: its violations and replay command. */
  result: RunResult;
}

/**
 * Searches for a smaller schedule that still breaks `failed`'s first invariant. Runs stop
 * after the failing step (the heal phase counts only when the heal phase was what failed).
 */
export async function shrinkFailure(
  failed: RunResult,
  opts: Omit<RunOptions, 'schedule' | 'seed'>,
  maxRuns = 120,
): Promise<ShrinkResult> {
  const first = failed.violations[0];
  if (!first) throw new Error('shrinkFailure needs a failed run');
  const steps = Math.min(failed.options.steps, first.step + 1);
  const base: RunOptions = { ...opts, seed: failed.seed, steps };
  let runs = 0;
  let best = failed;
  let current = failed.schedule;
  const stillFails = async (candidate: ScheduleAction[]): Promise<RunResult | null> => {
    runs++;
    const r = await runSchedule({ ...base, schedule: candidate });
    return r.violations[0]?.invariant === first.invariant ? r : null;
  };
  // The same failure with the truncated step count, played from its explicit schedule.
  const again = await stillFails(current);
  if (!again) return { schedule: current, runs, result: failed };
  best = again;
  let chunk = Math.ceil(current.length / 2);
  while (chunk >= 1 && runs < maxRuns && current.length > 0) {
    let removed = false;
    for (let at = 0; at < current.length && runs < maxRuns; ) {
      const candidate = [...current.slice(0, at), ...current.slice(at + chunk)];
      const r = await stillFails(candidate);
      if (r) {
        current = candidate;
        best = r;
        removed = true;
      } else {
        at += chunk;
      }
    }
    if (!removed) chunk = Math.floor(chunk / 2);
    else chunk = Math.min(chunk, Math.ceil(current.length / 2));
  }
  return { schedule: current, runs, result: best };
}

/** What a failing seed prints: the failure as found, then the shrunk schedule and its replay. */
export function formatShrunkFailure(failed: RunResult, shrunk: ShrinkResult): string {
  const lines = [formatFailure(failed)];
  const r = shrunk.result;
  lines.push(
    `  minimal schedule: ${shrunk.schedule.length} of ${failed.schedule.length} action(s) still break ${r.violations[0]?.invariant ?? 'it'} (${shrunk.runs} runs)`,
  );
  if (shrunk.schedule.length === 0) lines.push('    (no faults, no requests)');
  for (const a of shrunk.schedule) lines.push(`    ${describeAction(a)}`);
  lines.push(
    `  replay minimal: ${replayCommand({ ...r.options, schedule: formatSchedule(shrunk.schedule) })}`,
  );
  return lines.join('\n');
}
