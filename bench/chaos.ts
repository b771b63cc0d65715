/**
 * Chaos on real processes: a 3-node cluster of pgwarden or of the real Patroni 3.0.2, each node
 * and each of three etcd members in a network namespace of its own, a Jepsen-style set workload
 * running all along, and faults drawn from a seed (or given) one after another. Per run it writes
 * the whole record (run.json), the report a person reads (report.txt) and a timeline picture
 * (timeline.svg) to the output directory, and a summary without the attempts to bench/results/.
 *
 *   npx tsx bench/chaos.ts [--agent pgwarden|pgwarden-fast|pgwarden-no-fast|patroni] [--profile fast|slow]
 *     [--faults N] [--seed S] [--async] [--min-hold S] [--max-hold S]
 *     [--kinds kill-node,switchover,…] [--max-hold S] [--plan RUN.json] [--out DIR]
 *   npx tsx bench/chaos.ts --table SUMMARY.json…   (the per-class table over saved runs)
 *
 * The exit status is 1 when an acknowledged write was lost without explanation, when two nodes
 * acknowledged writes at once, when a fault never settled, or when the run could not finish.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENTS, PROFILES, type ProfileName } from './lib/agents.ts';
import { analyse } from './lib/chaos/checker.ts';
import { drawPlan, FAULT_KINDS, type PlannedFault } from './lib/chaos/faults.ts';
import { formatReport } from './lib/chaos/report.ts';
import { runChaos } from './lib/chaos/run.ts';
import { classTable, type Summary, summarise } from './lib/chaos/summary.ts';
import { renderTimeline } from './lib/chaos/timeline-svg.ts';
import type { AgentKind, FaultKind, RunRecord } from './lib/chaos/types.ts';
import { loadInfo } from './lib/provenance.ts';
import { writeResults } from './lib/results.ts';

interface Args {
  agent: AgentKind;
  profile: ProfileName;
  faults: number;
  seed: number;
  synchronous: boolean;
  kinds: FaultKind[];
  maxHoldMs: number;
  minHoldMs: number;
  plan: PlannedFault[] | null;
  out: string | null;
  table: string[] | null;
  label: string;
}

function fail(msg: string): never {
  process.stderr.write(`chaos: ${msg}\n`);
  process.exit(2);
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    agent: 'pgwarden',
    profile: 'fast',
    faults: 10,
    seed: Date.now() % 1_000_000,
    synchronous: true,
    kinds: FAULT_KINDS,
    maxHoldMs: 25_000,
    minHoldMs: 1000,
    plan: null,
    out: null,
    table: null,
    label: '',
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = () => argv[++i] ?? fail(`${flag} needs a value`);
    const int = (min: number) => {
      const v = Number(value());
      if (!Number.isInteger(v) || v < min) fail(`${flag} must be an integer ≥ ${min}`);
      return v;
    };
    switch (flag) {
      case '--agent': {
        const v = value();
        if (!AGENTS.includes(v as AgentKind))
          fail(
            '--agent is pgwarden (its defaults), pgwarden-fast (fast failover asked for), pgwarden-no-fast (off) or patroni',
          );
        a.agent = v as AgentKind;
        break;
      }
      case '--profile': {
        const v = value();
        if (v !== 'slow' && v !== 'fast')
          fail("--profile is slow (Patroni's defaults: ttl 30) or fast (ttl 10)");
        a.profile = v;
        break;
      }
      case '--faults':
        a.faults = int(1);
        break;
      case '--seed':
        a.seed = int(0);
        break;
      case '--async':
        a.synchronous = false;
        break;
      case '--sync':
        a.synchronous = true;
        break;
      case '--max-hold':
        a.maxHoldMs = int(2) * 1000;
        break;
      case '--min-hold':
        // Long enough for a ttl to run out: with Patroni's defaults (ttl 30) a shorter fault
        // heals before anyone may fail over.
        a.minHoldMs = int(1) * 1000;
        break;
      case '--kinds': {
        const kinds = value().split(',');
        const unknown = kinds.filter((k) => !FAULT_KINDS.includes(k as FaultKind));
        if (unknown.length > 0)
          fail(`unknown fault kind ${unknown.join(', ')}; known: ${FAULT_KINDS.join(', ')}`);
        a.kinds = kinds as FaultKind[];
        break;
      }
      case '--plan': {
        const run = JSON.parse(readFileSync(value(), 'utf8')) as Pick<
          RunRecord,
          'plan' | 'seed' | 'synchronous'
        >;
        if (!Array.isArray(run.plan)) fail('--plan needs a run.json or summary with a plan');
        a.plan = run.plan;
        a.seed = run.seed;
        a.synchronous = run.synchronous;
        break;
      }
      case '--out':
        a.out = value();
        break;
      case '--label':
        a.label = value();
        break;
      case '--table':
        a.table = argv.slice(i + 1);
        i = argv.length;
        break;
      default:
        fail(`unknown argument ${flag}`);
    }
  }
  return a;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.table) {
    const summaries = args.table.map((f) => JSON.parse(readFileSync(f, 'utf8')) as Summary);
    process.stdout.write(`${classTable(summaries)}\n`);
    return;
  }
  if (process.getuid?.() !== 0) fail('network namespaces need root');
  if (args.minHoldMs >= args.maxHoldMs) fail('--min-hold must be below --max-hold');
  const plan = args.plan ?? drawPlan(args.seed, args.faults, args.kinds, args.maxHoldMs, args.minHoldMs);
  const mode = args.synchronous ? 'sync' : 'async';
  const out =
    args.out ?? join(tmpdir(), `pgwarden-chaos-${args.agent}-${mode}-seed${args.seed}-${Date.now()}`);
  mkdirSync(out, { recursive: true });
  const log = (line: string) => process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);
  log(`${args.agent}, ${mode} replication, seed ${args.seed}, ${plan.length} faults; output in ${out}`);

  // Ctrl-C ends the run between two faults, so that it still heals, reads back and removes
  // its namespaces and processes; a second one exits at once (removeStale() cleans up next time).
  const stop = new AbortController();
  process.on('SIGINT', () => {
    if (stop.signal.aborted) process.exit(130);
    log(
      'interrupted: finishing the fault in progress, then healing and cleaning up (Ctrl-C again to quit now)',
    );
    stop.abort('interrupted');
  });
  const loadAtStart = loadInfo();
  const run = await runChaos({
    signal: stop.signal,
    agent: args.agent,
    seed: args.seed,
    synchronous: args.synchronous,
    dcs: PROFILES[args.profile].dcs,
    plan,
    logsTo: join(out, 'logs'),
    log,
  });
  const report = analyse(run);
  writeFileSync(join(out, 'run.json'), JSON.stringify(run));
  const text = formatReport(report);
  writeFileSync(join(out, 'report.txt'), `${text}\n`);
  writeFileSync(join(out, 'timeline.svg'), renderTimeline(run, report));
  const summary = { ...summarise(run, report, args.label), load: { start: loadAtStart, end: loadInfo() } };
  const saved = writeResults(`chaos-${args.agent}-${mode}`, new Date(run.startedAt), summary);
  process.stdout.write(
    `\n${text}\n\nrun: ${out}/run.json, picture: ${out}/timeline.svg, summary: ${saved}\n`,
  );
  process.exit(summary.verdict === 'ok' ? 0 : 1);
}

main().catch((err) => {
  process.stderr.write(`chaos: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
