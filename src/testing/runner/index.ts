/**
 * The seeded runner (run.ts): a fault schedule and a client workload played on a simulated
 * cluster with every invariant checked; how each action acts on the cluster (apply.ts), what it
 * tracks besides the cluster (run-state.ts), and what a run prints (report.ts).
 */
export { formatFailure, formatSummary, replayCommand } from './report.ts';
export { runSchedule, timeoutsFor } from './run.ts';
export type { RunOptions, RunResult, RunStats, Violation } from './types.ts';
