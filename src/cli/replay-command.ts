/**
 * `pgwarden replay JOURNAL...`: re-run the production machines on recorded journals (exit 0 when
 * every recorded transition happens again, 1 at the first divergence, 2 when the journals cannot
 * be replayed), or print every machine at one time (`--at`) or all nodes' transitions in time
 * order (`--timeline`).
 */
import {
  type AgentRun,
  agentRuns,
  formatDivergence,
  formatStatesAt,
  formatSummary,
  formatTimeline,
  JournalError,
  loadJournalFiles,
  parseTime,
  ReplayRefused,
  ROUTINE_ACTORS,
  replayRuns,
  statesAt,
  timeline,
} from '../replay/index.ts';
import { CliError } from './errors.ts';

export interface ReplayCommandOptions {
  at?: string;
  timeline?: boolean;
  /** Timeline and --at: these actors (names or prefixes, comma-separated); `all` for every one. */
  actors?: string;
  /** Replay journals written by other machine definitions, with a warning. */
  force?: boolean;
}

export function runReplay(
  files: readonly string[],
  opts: ReplayCommandOptions,
  out: (text: string) => void = (t) => process.stdout.write(`${t}\n`),
): number {
  const runs = load(files);
  try {
    if (opts.timeline) {
      out(formatTimeline(timeline(runs, actorFilter(opts.actors))));
      return 0;
    }
    if (opts.at !== undefined) {
      const first = Math.min(...runs.map((r) => r.entries[0]?.t ?? Number.POSITIVE_INFINITY));
      const at = parseTime(opts.at, first);
      if (at === null)
        throw new CliError(
          `--at: '${opts.at}' is not a time (ISO 8601, epoch ms, or +SECONDS from the start)`,
          2,
        );
      const show = opts.actors === undefined ? () => true : actorFilter(opts.actors);
      const states = statesAt(runs, at, { force: opts.force });
      for (const actors of states.values())
        for (const name of [...actors.keys()]) if (!show(name)) actors.delete(name);
      out(formatStatesAt(states, at));
      return 0;
    }
    const report = replayRuns(runs, { force: opts.force });
    const nodes = new Set(runs.map((r) => r.node)).size;
    if (report.divergence) {
      out(formatDivergence(report.divergence));
      out(formatSummary(report, nodes));
      return 1;
    }
    out(formatSummary(report, nodes));
    return 0;
  } catch (err) {
    if (err instanceof ReplayRefused) throw new CliError(err.message, 2);
    throw err;
  }
}

function load(files: readonly string[]): AgentRun[] {
  if (files.length === 0) throw new CliError('replay: give at least one journal file', 2);
  try {
    return loadJournalFiles(files).flatMap((entries) => agentRuns(entries));
  } catch (err) {
    if (err instanceof JournalError) throw new CliError(err.message, 2);
    throw err;
  }
}

function actorFilter(actors: string | undefined): (actor: string) => boolean {
  if (actors === 'all') return () => true;
  if (actors === undefined) return (a) => !ROUTINE_ACTORS.includes(a);
  const wanted = actors
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return (a) => wanted.some((w) => a === w || a.startsWith(`${w}.`) || a.startsWith(`${w}-`));
}
