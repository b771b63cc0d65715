/**
 * Simulator throughput: seeded schedules per minute of `pgwarden sim` (3 nodes, 60 steps × 5 s
 * = 5 virtual minutes per schedule, the defaults), asynchronous and synchronous replication,
 * one thread and worker threads (--jobs). Each run is a fresh process, as a user runs it:
 *
 *   node bin/pgwarden.js sim --seed 1 --seeds N --jobs J [--sync]
 *
 * and reports the CLI's own figure (`… seeds ok in T s (R schedules/min)`: from the first seed
 * to the last result, worker start included, process start and module loading not), the
 * process's wall time from spawn to exit, the CPU time it used (user + system, all threads),
 * and the CPU the rest of the machine used meanwhile (other sessions share this machine: each
 * run waits, up to two minutes, for the machine to be nearly idle before it starts).
 *
 *   npx tsx bench/sim.ts [--runs N] [--seeds N] [--jobs 1,2] [--modes async,sync]
 *                        [--repo DIR] [--label TEXT]
 *
 * Defaults: 3 runs of 60 seeds for every combination of jobs 1,2 and async,sync; runs of the
 * combinations are interleaved (run 1 of each, then run 2 of each, ...) so that a change in
 * the machine's load hits all of them alike. `--repo` measures another checkout's CLI (e.g. a
 * commit before a change; a CLI without --jobs runs jobs 1 only). Prints a markdown table with
 * per-run values and medians; raw results go to bench/results/sim-<date>[-label].json.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gitState, loadInfo, machineInfo } from './lib/provenance.ts';
import { writeResults } from './lib/results.ts';
import { type Column, groupedTable } from './lib/table.ts';
import { now, sleep } from './lib/time.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLK_TCK = 100;

type Mode = 'async' | 'sync';

interface Options {
  runs: number;
  seeds: number;
  jobs: number[];
  modes: Mode[];
  repo: string;
  label: string | null;
}

interface Run {
  mode: Mode;
  jobs: number;
  run: number;
  ok: boolean;
  seedsOk: number;
  seeds: number;
  /** The CLI's own timing line. */
  cliSeconds: number | null;
  schedulesPerMin: number | null;
  /** Spawn to exit. */
  wallSeconds: number;
  /** user + system CPU of the process and its threads. */
  cpuSeconds: number;
  /** CPU the rest of the machine used meanwhile, in cores (other sessions share this machine). */
  othersCores: number;
  /** Seconds waited for the machine to be quiet before starting. */
  waitedSeconds: number;
  exitCode: number | null;
  loadBefore: number[];
  failures: string[];
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    runs: 3,
    seeds: 60,
    jobs: [1, 2],
    modes: ['async', 'sync'],
    repo: REPO,
    label: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = () => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${a} needs a value`);
      return x;
    };
    if (a === '--runs') o.runs = Number(v());
    else if (a === '--seeds') o.seeds = Number(v());
    else if (a === '--jobs') o.jobs = v().split(',').map(Number);
    else if (a === '--modes') o.modes = v().split(',') as Mode[];
    else if (a === '--repo') o.repo = resolve(v());
    else if (a === '--label') o.label = v();
    else throw new Error(`unknown option ${a}`);
  }
  const positive = (n: number) => Number.isInteger(n) && n >= 1;
  if (!positive(o.runs) || !positive(o.seeds) || !o.jobs.every(positive)) {
    throw new Error('--runs, --seeds and --jobs take integers ≥ 1');
  }
  if (!o.modes.every((m) => m === 'async' || m === 'sync')) throw new Error('--modes: async, sync');
  return o;
}

/** Machine-wide busy and total jiffies (all cores). */
function machineJiffies(): { busy: number; total: number } {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number);
  const total = cpu.reduce((a, b) => a + b, 0);
  return { busy: total - (cpu[3] ?? 0) - (cpu[4] ?? 0), total };
}

const QUIET_CORES = 0.15;
const QUIET_WAIT_MAX_S = 120;

/**
 * Wait (at most QUIET_WAIT_MAX_S) until the machine has been nearly idle for 2 s: other
 * sessions run tests on it now and then. Answers the seconds waited.
 */
async function waitForQuiet(): Promise<number> {
  const start = now();
  for (;;) {
    const a = machineJiffies();
    await sleep(2000);
    const b = machineJiffies();
    const cores = (b.busy - a.busy) / CLK_TCK / 2;
    if (cores <= QUIET_CORES || (now() - start) / 1000 >= QUIET_WAIT_MAX_S) return (now() - start) / 1000;
  }
}

/** CPU seconds (user + system) of this process's reaped children. */
function childrenCpuS(): number {
  const s = readFileSync('/proc/self/stat', 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) / CLK_TCK;
}

function cliSupportsJobs(repo: string): Promise<boolean> {
  return new Promise((res) => {
    const p = spawn(process.execPath, [resolve(repo, 'bin/pgwarden.js'), 'sim', '--help'], { cwd: repo });
    let out = '';
    p.stdout.on('data', (d) => {
      out += d;
    });
    p.on('close', () => res(out.includes('--jobs')));
  });
}

async function runOnce(o: Options, mode: Mode, jobs: number, run: number, passJobs: boolean): Promise<Run> {
  const waitedSeconds = await waitForQuiet();
  const args = [resolve(o.repo, 'bin/pgwarden.js'), 'sim', '--seed', '1', '--seeds', String(o.seeds)];
  if (passJobs) args.push('--jobs', String(jobs));
  if (mode === 'sync') args.push('--sync');
  const loadBefore = loadInfo().loadavg;
  const cpuBefore = childrenCpuS();
  const machineBefore = machineJiffies();
  const started = now();
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, args, { cwd: o.repo, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => {
      out += d;
    });
    p.on('error', rej);
    p.on('close', (code) => {
      const wallSeconds = (now() - started) / 1000;
      const cpuSeconds = childrenCpuS() - cpuBefore;
      const machineBusyS = (machineJiffies().busy - machineBefore.busy) / CLK_TCK;
      const othersCores = Math.max(0, machineBusyS - cpuSeconds) / wallSeconds;
      const lines = out.trimEnd().split('\n');
      const m = / *(\d+)\/(\d+) seeds ok in ([\d.]+) s \((\d+) schedules\/min\)/.exec(lines.at(-1) ?? '');
      res({
        mode,
        jobs,
        run,
        ok: code === 0 && m !== null && m[1] === m[2],
        seedsOk: m ? Number(m[1]) : 0,
        seeds: o.seeds,
        cliSeconds: m ? Number(m[3]) : null,
        schedulesPerMin: m ? Number(m[4]) : null,
        wallSeconds,
        cpuSeconds,
        othersCores,
        waitedSeconds,
        exitCode: code,
        loadBefore,
        failures: lines.filter((l) => /^seed \d+: FAIL/.test(l)),
      });
    });
  });
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const startedAt = new Date();
  const withJobs = await cliSupportsJobs(o.repo);
  const jobs = withJobs ? o.jobs : [1];
  const code = { atStart: gitStateOf(o.repo), atEnd: null as ReturnType<typeof gitState> | null };
  const machine = { ...machineInfo(), load: loadInfo() };
  const runs: Run[] = [];
  for (let run = 1; run <= o.runs; run++) {
    for (const mode of o.modes) {
      for (const j of jobs) {
        const r = await runOnce(o, mode, j, run, withJobs);
        runs.push(r);
        process.stderr.write(
          `${mode} jobs=${j} run ${run}: ${r.schedulesPerMin ?? '—'} schedules/min (${r.seedsOk}/${r.seeds} ok, wall ${r.wallSeconds.toFixed(1)} s, cpu ${r.cpuSeconds.toFixed(1)} s, others ${r.othersCores.toFixed(2)} cores, waited ${r.waitedSeconds.toFixed(0)} s)\n`,
        );
      }
    }
  }
  code.atEnd = gitStateOf(o.repo);
  const groups = o.modes.flatMap((mode) =>
    jobs.map((j) => ({
      name: `${mode}, jobs ${j}`,
      runs: runs.filter((r) => r.mode === mode && r.jobs === j),
    })),
  );
  const columns: Array<Column<Run>> = [
    { head: 'schedules/min (CLI)', get: (r) => r.schedulesPerMin, digits: 0 },
    { head: 'CLI s', get: (r) => r.cliSeconds, digits: 1 },
    { head: 'process wall s', get: (r) => r.wallSeconds, digits: 1 },
    { head: 'schedules/min (process)', get: (r) => (r.seeds / r.wallSeconds) * 60, digits: 0 },
    { head: 'CPU s', get: (r) => r.cpuSeconds, digits: 1 },
    { head: 'CPU ms/schedule', get: (r) => (r.cpuSeconds / r.seeds) * 1000, digits: 0 },
    { head: 'others, cores', get: (r) => r.othersCores, digits: 2 },
  ];
  const table = groupedTable({
    groupHead: 'replication, jobs',
    groups,
    columns,
    text: [
      {
        head: 'seeds ok',
        get: (r) => `${r.seedsOk}/${r.seeds}${r.exitCode === 0 ? '' : ` (exit ${r.exitCode})`}`,
      },
    ],
  });
  const file = writeResults(
    'sim',
    startedAt,
    { startedAt: startedAt.toISOString(), options: o, jobsFlag: withJobs, code, machine, runs },
    o.label ? `-${o.label}` : '',
  );
  process.stdout.write(`${table}\n\nraw: ${file}\n`);
}

function gitStateOf(repo: string): ReturnType<typeof gitState> {
  if (repo === REPO) return gitState();
  // Another checkout: its HEAD and uncommitted src/ changes.
  const git = (args: string[]) => {
    try {
      return execFileSync('git', args, { cwd: repo, encoding: 'utf8' });
    } catch {
      return null;
    }
  };
  return {
    head: git(['rev-parse', 'HEAD'])?.trim() ?? null,
    dirtySrc: (git(['status', '--porcelain', '--', 'src']) ?? '').split('\n').filter((l) => l.trim() !== ''),
  };
}

await main();
