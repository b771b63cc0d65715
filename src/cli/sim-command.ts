/**
 * `pgwarden sim`: play seeded fault schedules on a simulated cluster (src/testing/runner/),
 * one summary line per seed; every failure prints its seed, schedule and replay command.
 * With --jobs N the seeds run on this thread and N − 1 worker threads (src/testing/parallel.ts);
 * the output is the same, in seed order.
 */
import { mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { formatCoverage, StateCoverage } from '../testing/coverage.ts';
import { COVERAGE_NOTES } from '../testing/coverage-notes.ts';
import { runSchedules } from '../testing/parallel.ts';
import { formatFailure, formatSummary, type RunResult, runSchedule } from '../testing/runner/index.ts';
import { scenarios } from '../testing/scenarios/index.ts';
import { parseSchedule, type ScheduleAction, ScheduleSyntaxError } from '../testing/schedule/index.ts';
import { formatShrunkFailure, shrinkFailure } from '../testing/shrink.ts';
import { CliError } from './errors.ts';

export interface SimOptions {
  seed: string;
  nodes: string;
  steps: string;
  seeds: string;
  stepMs: string;
  ttl: string;
  sync?: boolean;
  failsafe?: boolean;
  watchdog?: boolean;
  fastFailover?: boolean;
  /** False (--no-check-heal): skip the check that every member streams on the leader's timeline. */
  checkHeal?: boolean;
  coverage?: boolean;
  /** With --coverage: every unreached state and transition, with its note. */
  verbose?: boolean;
  /** Play this schedule (its text form) instead of the generated ones. */
  schedule?: string;
  /** Cut failing schedules down (default on; --no-shrink). */
  shrink?: boolean;
  /** Worker threads (default: os.availableParallelism()). */
  jobs?: string;
  /** Write each node's journal of each seed into this directory (for `pgwarden replay`). */
  journal?: string;
}

/** --journal: the directory, made if missing. */
function journalDir(dir: string): string {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new CliError(`--journal: cannot make ${dir}: ${(err as Error).message}`, 2);
  }
  return resolve(dir);
}

function int(name: string, value: string, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new CliError(`--${name} must be an integer ≥ ${min}`, 2);
  return n;
}

export async function runSim(
  opts: SimOptions,
  out: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
): Promise<number> {
  const seed = int('seed', opts.seed, 0);
  const nodes = int('nodes', opts.nodes, 1);
  const steps = int('steps', opts.steps, 0);
  const seeds = int('seeds', opts.seeds, 1);
  const stepMs = int('step-ms', opts.stepMs, 100);
  const ttl = int('ttl', opts.ttl, 1);
  const jobs = opts.jobs === undefined ? availableParallelism() : int('jobs', opts.jobs, 1);
  let schedule: ScheduleAction[] | undefined;
  if (opts.schedule !== undefined) {
    try {
      schedule = parseSchedule(
        opts.schedule,
        Array.from({ length: nodes }, (_, i) => `node${i + 1}`),
      );
    } catch (err) {
      if (err instanceof ScheduleSyntaxError) throw new CliError(`--schedule: ${err.message}`, 2);
      throw err;
    }
  }
  const started = Date.now();
  const coverage = opts.coverage ? new StateCoverage() : undefined;
  const failures: RunResult[] = [];
  const report = (r: RunResult) => {
    out(formatSummary(r));
    if (!r.ok) {
      failures.push(r);
      out(formatFailure(r));
    }
  };
  const options = {
    nodes,
    steps,
    stepMs,
    ttl,
    synchronousMode: opts.sync === true,
    failsafeMode: opts.failsafe === true,
    watchdog: opts.watchdog === true,
    fastFailover: opts.fastFailover !== false,
    checkHeal: opts.checkHeal !== false,
    ...(opts.journal === undefined ? {} : { journalDir: journalDir(opts.journal) }),
  };
  const all = Array.from({ length: seeds }, (_, i) => seed + i);
  // Every thread compiles the same code anew, and on these short runs TurboFan's inlining costs
  // more CPU (on V8's helper threads, which the jobs compete with) than it saves: without it
  // this process runs about a quarter more schedules per minute on two cores (bench/README.md).
  // It is read as each function is optimized, so setting it now is safe; it changes no result.
  setFlagsFromString('--no-turbo-inlining');
  if (schedule) {
    // A replay: the given schedule under each seed, in this thread.
    for (const s of all) report(await runSchedule({ ...options, seed: s, schedule, coverage }));
  } else {
    await runSchedules(all, options, report, { jobs, coverage });
  }
  const failed = failures.length;
  const secs = (Date.now() - started) / 1000;
  out(
    `${seeds - failed}/${seeds} seeds ok in ${secs.toFixed(1)} s (${((seeds / Math.max(secs, 0.001)) * 60).toFixed(0)} schedules/min)`,
  );
  if (coverage) {
    // What the seeds leave out, the targeted scenarios reach (the notes explain the rest).
    for (const s of scenarios) await s.run(coverage.inspect);
    out(`coverage of these runs and the ${scenarios.length} targeted scenarios:`);
    out(formatCoverage(coverage.report(), { notes: COVERAGE_NOTES, verbose: opts.verbose === true }));
  }
  // The first few failures, each cut down to the actions it needs.
  if (opts.shrink !== false) {
    for (const f of failures.slice(0, 3)) {
      out(`shrinking seed ${f.seed} ...`);
      out(formatShrunkFailure(f, await shrinkFailure(f, options)));
    }
  }
  return failed > 0 ? 1 : 0;
}
