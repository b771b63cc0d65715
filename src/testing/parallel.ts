/**
 * Seeded schedules on several threads: `runSchedules` runs seeds in this thread and in
 * `jobs - 1` worker threads, one seed at a time each (whichever is free takes the next), and
 * gives back each result in seed order, as if they had all run one after the other here. Every
 * run is independent of what ran before it in the same thread, so the results are the same
 * whatever the number of threads.
 *
 * The worker side is `serveSchedules`, started by sim-worker.ts (compiled in dist/; run from the
 * sources, under the tests, the worker registers tsx first: a worker thread has its own loader).
 */
import { parentPort, Worker } from 'node:worker_threads';
import { type CoverageData, StateCoverage } from './coverage.ts';
import { type RunOptions, type RunResult, runSchedule } from './runner/index.ts';

/** What every run shares; each run adds its seed (and its thread's coverage). */
export type ScheduleOptions = Omit<RunOptions, 'seed' | 'coverage' | 'log' | 'extraInvariants' | 'schedule'>;

type ToWorker = { type: 'run'; options: RunOptions } | { type: 'finish' };
type FromWorker =
  | { type: 'result'; result: RunResult }
  | { type: 'coverage'; data: CoverageData | null }
  | { type: 'error'; message: string; stack?: string };

export interface ParallelOptions {
  /** Threads, this one included (at most one per seed): jobs − 1 workers are started. */
  jobs: number;
  /** Merges what the workers' runs visited (StateCoverage.merge). */
  coverage?: StateCoverage;
}

/** A worker thread running sim-worker: its JavaScript when compiled, its TypeScript through tsx. */
function startWorker(workerData: { coverage: boolean }): Worker {
  if (!import.meta.url.endsWith('.ts'))
    return new Worker(new URL('./sim-worker.js', import.meta.url), { workerData });
  const entry = JSON.stringify(new URL('./sim-worker.ts', import.meta.url).href);
  const code = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${entry}); });`;
  return new Worker(code, { eval: true, workerData });
}

/**
 * Run `seeds` with `options` on `jobs` threads; `onResult` gets every result in seed order.
 * Rejects (and stops every worker) if a run throws.
 */
export async function runSchedules(
  seeds: readonly number[],
  options: ScheduleOptions,
  onResult: (r: RunResult) => void,
  { jobs, coverage }: ParallelOptions,
): Promise<void> {
  const results = new Map<number, RunResult>();
  let nextToHand = 0;
  let nextToReport = 0;
  const workers: Worker[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      let running = 0;
      const fail = (err: Error) => reject(err);
      const report = () => {
        while (nextToReport < seeds.length && results.has(seeds[nextToReport]!)) {
          const r = results.get(seeds[nextToReport]!)!;
          results.delete(seeds[nextToReport]!);
          nextToReport++;
          onResult(r);
        }
      };
      const handOut = (w: Worker) => {
        if (nextToHand < seeds.length) {
          const seed = seeds[nextToHand++]!;
          w.postMessage({ type: 'run', options: { ...options, seed } } satisfies ToWorker);
        } else {
          w.postMessage({ type: 'finish' } satisfies ToWorker);
        }
      };
      const count = Math.max(1, Math.min(jobs, seeds.length));
      // This thread is one of the jobs: it has the runner loaded already, a worker would
      // start from nothing.
      running++;
      const local = async () => {
        while (nextToHand < seeds.length) {
          const seed = seeds[nextToHand++]!;
          const r = await runSchedule({ ...options, seed, coverage });
          results.set(seed, r);
          report();
        }
      };
      local().then(() => {
        running--;
        if (running === 0) resolve();
      }, fail);
      for (let i = 1; i < count; i++) {
        const w = startWorker({ coverage: coverage !== undefined });
        workers.push(w);
        running++;
        w.on('message', (m: FromWorker) => {
          if (m.type === 'result') {
            results.set(m.result.seed, m.result);
            try {
              report();
            } catch (err) {
              fail(err as Error);
              return;
            }
            handOut(w);
          } else if (m.type === 'coverage') {
            if (m.data && coverage) coverage.merge(m.data);
            running--;
            if (running === 0) resolve();
          } else {
            const err = new Error(m.message);
            if (m.stack) err.stack = m.stack;
            fail(err);
          }
        });
        w.on('error', fail);
        w.on('exit', (code) => {
          if (code !== 0) fail(new Error(`simulation worker exited with code ${code}`));
        });
        handOut(w);
      }
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** The worker thread's side: run what the parent sends, one schedule at a time. */
export function serveSchedules(withCoverage: boolean): void {
  const port = parentPort;
  if (!port) throw new Error('serveSchedules runs in a worker thread');
  const coverage = withCoverage ? new StateCoverage() : undefined;
  port.on('message', (m: ToWorker) => {
    if (m.type === 'finish') {
      port.postMessage({ type: 'coverage', data: coverage?.toJSON() ?? null } satisfies FromWorker);
      return;
    }
    runSchedule({ ...m.options, coverage }).then(
      (result) => port.postMessage({ type: 'result', result } satisfies FromWorker),
      (err: Error) =>
        port.postMessage({
          type: 'error',
          message: String(err?.message ?? err),
          stack: err?.stack,
        } satisfies FromWorker),
    );
  });
}
