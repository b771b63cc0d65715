/**
 * `pgwarden sim`: play seeded fault schedules on a simulated cluster (src/testing/runner.ts),
 * one summary line per seed; every failure prints its seed, schedule and replay command.
 */
import { formatCoverage, StateCoverage } from '../testing/coverage.ts';
import { formatFailure, formatSummary, runSchedule } from '../testing/runner.ts';
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
  const started = Date.now();
  const coverage = opts.coverage ? new StateCoverage() : undefined;
  let failed = 0;
  for (let s = seed; s < seed + seeds; s++) {
    const r = await runSchedule({
      seed: s,
      nodes,
      steps,
      stepMs,
      ttl,
      synchronousMode: opts.sync === true,
      coverage,
    });
    out(formatSummary(r));
    if (!r.ok) {
      failed++;
      out(formatFailure(r));
    }
  }
  const secs = (Date.now() - started) / 1000;
  out(
    `${seeds - failed}/${seeds} seeds ok in ${secs.toFixed(1)} s (${((seeds / Math.max(secs, 0.001)) * 60).toFixed(0)} schedules/min)`,
  );
  if (coverage) out(formatCoverage(coverage.report()));
  return failed > 0 ? 1 : 0;
}
