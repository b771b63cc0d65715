/**
 * `pgwarden sim`: play seeded fault schedules on a simulated cluster (src/testing/runner.ts),
 * one summary line per seed; every failure prints its seed, schedule and replay command.
 * With --jobs N the seeds run on this thread and N − 1 worker threads (src/testing/parallel.ts);
 * the output is the same, in seed order.
 */
import { availableParallelism } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { formatCoverage, StateCoverage } from '../testing/coverage.ts';
import { runSchedules } from '../testing/parallel.ts';
import { formatFailure, formatSummary, type RunResult } from '../testing/runner.ts';
import { CliError } from './errors.ts';

export interface SimOptions {
  seed: string;
  nodes: string;
  steps: string;
  seeds: string;
  stepMs: string;
  ttl: string;
  sync?: boolean;
  coverage?: boolean;
  /** Worker threads (default: os.availableParallelism()). */
  jobs?: string;
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
  const started = Date.now();
  const coverage = opts.coverage ? new StateCoverage() : undefined;
  let failed = 0;
  const report = (r: RunResult) => {
    out(formatSummary(r));
    if (!r.ok) {
      failed++;
      out(formatFailure(r));
    }
  };
  const options = { nodes, steps, stepMs, ttl, synchronousMode: opts.sync === true };
  const all = Array.from({ length: seeds }, (_, i) => seed + i);
  // Every thread compiles the same code anew, and on these short runs TurboFan's inlining costs
  // more CPU (on V8's helper threads, which the jobs compete with) than it saves: without it
  // this process runs about a quarter more schedules per minute on two cores (bench/README.md).
  // It is read as each function is optimized, so setting it now is safe; it changes no result.
  setFlagsFromString('--no-turbo-inlining');
  await runSchedules(all, options, report, { jobs, coverage });
  const secs = (Date.now() - started) / 1000;
  out(
    `${seeds - failed}/${seeds} seeds ok in ${secs.toFixed(1)} s (${((seeds / Math.max(secs, 0.001)) * 60).toFixed(0)} schedules/min)`,
  );
  if (coverage) out(formatCoverage(coverage.report()));
  return failed > 0 ? 1 : 0;
}
