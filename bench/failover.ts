/**
 * Failover benchmark, per failure class of the leader's node and per HA agent: pgwarden and the
 * real Patroni 3.0.2, on the same YAML, measured back to back in the same batch. Per run, a fresh
 * 3-node LocalCluster (etcd + three agents as separate processes, as the postgres OS user), a
 * client writing all along, a probe writing to every node, one fault (bench/lib/faults.ts), then:
 * the write outage the client saw, when the leader key changed, whether two nodes accepted
 * writes at once, and which acknowledged rows were lost.
 *
 *   npx tsx bench/failover.ts [--class node-kill|freeze-kill|etcd-cut|agent-kill|all]
 *     [--agent pgwarden|pgwarden-fast|pgwarden-no-fast|patroni|both|all] [--runs N] [--profile slow|fast|both] [--label TEXT]
 *   npx tsx bench/failover.ts --report FILE.json…   (the per-class table over saved batches)
 */
import { chmodSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { refreshIntervalMs } from '../src/machines/election/index.ts';
import { AGENTS, type AgentKind, PROFILES, type Profile } from './lib/agents.ts';
import { READY_POLL_MS } from './lib/bootstrap.ts';
import { LEADER_POLL_MS } from './lib/etcd.ts';
import { classTable, runTable } from './lib/failover-report.ts';
import { activeCluster, HOLD_AFTER_TAKEOVER_MS, oneRun, type RunResult } from './lib/failover-run.ts';
import { CLASSES, type FailureClass } from './lib/faults.ts';
import { gitState, loadInfo, machineInfo } from './lib/provenance.ts';
import { writeResults } from './lib/results.ts';
import { fmt } from './lib/table.ts';
import {
  CONNECT_TIMEOUT_MS,
  QUERY_TIMEOUT_MS,
  SETTLE_ON_NEW_PRIMARY_MS,
  WRITABLE_PROBE_MS,
  WRITE_EVERY_MS,
} from './lib/writer.ts';

/**
 * The fault comes a uniformly random time after the cluster is ready, so that it does not line
 * up with the leader's lease refresh: 0.5 s to the longer of the two agents' refresh periods
 * (Patroni refreshes every loop_wait; pgwarden every max(loop_wait, ttl − margin − retry_timeout
 * − step): 17 s / 4 s for slow / fast), the same window for both agents.
 */
function faultWindowMs(profile: Profile): number {
  const pgwarden = refreshIntervalMs({
    ...profile.dcs,
    maximum_lag_on_failover: 1048576,
    check_timeline: false,
    synchronous_mode: false,
  });
  return Math.max(profile.dcs.loop_wait * 1000, pgwarden);
}

interface Args {
  runs: number;
  classes: FailureClass[];
  agents: AgentKind[];
  profiles: Profile[];
  label: string;
}

function parseArgs(argv: string[]): Args {
  let runs = 3;
  let cls = 'all';
  let agent = 'both';
  let profile = 'slow';
  let label = '';
  for (let i = 0; i < argv.length; i++) {
    const value = () => argv[++i] ?? '';
    if (argv[i] === '--runs') runs = Number(value());
    else if (argv[i] === '--class') cls = value();
    else if (argv[i] === '--agent') agent = value();
    else if (argv[i] === '--profile') profile = value();
    else if (argv[i] === '--label') label = value();
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer');
  if (cls !== 'all' && !CLASSES.includes(cls as FailureClass))
    throw new Error(`--class must be one of ${CLASSES.join(', ')} or all`);
  if (agent !== 'both' && agent !== 'all' && !AGENTS.includes(agent as AgentKind))
    throw new Error(
      '--agent must be pgwarden, pgwarden-fast, pgwarden-no-fast, patroni, both (pgwarden and patroni) or all',
    );
  if (profile !== 'both' && profile !== 'slow' && profile !== 'fast')
    throw new Error('--profile must be slow, fast or both');
  if (label !== '' && !/^[a-z0-9-]+$/.test(label))
    throw new Error('--label: lowercase letters, digits and -');
  return {
    runs,
    classes: cls === 'all' ? CLASSES : [cls as FailureClass],
    agents: agent === 'all' ? AGENTS : agent === 'both' ? ['pgwarden', 'patroni'] : [agent as AgentKind],
    profiles: profile === 'both' ? [PROFILES.slow, PROFILES.fast] : [PROFILES[profile]],
    label,
  };
}

function onInterrupt(): void {
  let interrupted = false;
  process.on('SIGINT', () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    console.error('\ninterrupted: stopping the cluster (Ctrl-C again to abandon it)');
    const stopping = activeCluster?.stop() ?? Promise.resolve();
    void stopping.finally(() => process.exit(130));
  });
}

function describe(r: RunResult): string {
  if (!r.ok) return `  FAILED: ${r.failure}`;
  return (
    `  bootstrap ${fmt(r.bootstrapS)} s; new key +${fmt(r.newLeaderKeyS)} s, other writable +${fmt(r.newWritableS)} s, ` +
    `old last writable +${fmt(r.oldLastWritableS)} s; outage ${fmt(r.outageS)} s; two writable ${fmt(r.twoWritableS)} s, ` +
    `old acked ${r.oldAcksWhileNewWritable} while other writable; lost ${r.lostAckedRows}/${r.ackedRows} writer, ` +
    `${r.lostProbeAcks}/${r.probeAcks} probe`
  );
}

/** The per-class table over the runs of one or more saved batches (same code, same profile). */
function report(files: string[]): void {
  const docs = files.map(
    (f) => JSON.parse(readFileSync(f, 'utf8')) as { results: RunResult[]; code: unknown },
  );
  const results = docs.flatMap((d) => d.results);
  const present = <T>(all: T[], get: (r: RunResult) => T) =>
    all.filter((x) => results.some((r) => get(r) === x));
  console.log(
    classTable(
      results,
      present(CLASSES, (r) => r.cls),
      present(['slow', 'fast'], (r) => r.profile),
    ),
  );
  for (const [i, d] of docs.entries()) console.log(`${files[i]}: ${JSON.stringify(d.code)}`);
}

async function main(): Promise<void> {
  if (process.argv[2] === '--report') return report(process.argv.slice(3));
  const args = parseArgs(process.argv.slice(2));
  onInterrupt();
  const workRoot = mkdtempSync(join(tmpdir(), 'pgwarden-bench-'));
  chmodSync(workRoot, 0o755); // the agents run as the postgres OS user
  console.log(`node logs under ${workRoot}`);
  const startedAt = new Date();
  const gitAtStart = gitState();
  const loadBefore: Array<ReturnType<typeof loadInfo> & { run: string }> = [];
  const results: RunResult[] = [];
  // Interleaved: run i of every class and agent before run i + 1 of any.
  for (const profile of args.profiles) {
    for (let run = 1; run <= args.runs; run++) {
      for (const cls of args.classes) {
        for (const agent of args.agents) {
          const tag = `${cls} ${agent} ${profile.name} ${run}/${args.runs}`;
          loadBefore.push({ run: tag, ...loadInfo() });
          console.log(`[${tag}] ttl ${profile.dcs.ttl}, loop_wait ${profile.dcs.loop_wait}`);
          const r = await oneRun({
            agent,
            cls,
            profile,
            run,
            faultWindowMs: faultWindowMs(profile),
            workRoot,
          });
          results.push(r);
          console.log(describe(r));
        }
      }
    }
  }
  const groups = args.classes.flatMap((cls) =>
    args.agents.flatMap((agent) =>
      args.profiles.map((p) => ({
        name: `${cls} ${agent} ${p.name}`,
        runs: results.filter((r) => r.cls === cls && r.agent === agent && r.profile === p.name),
      })),
    ),
  );
  const perRun = runTable(groups);
  const perClass = classTable(
    results,
    args.classes,
    args.profiles.map((p) => p.name),
  );
  console.log(`\n${perRun}\n\n${perClass}\n`);
  const doc = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: machineInfo(),
    code: { atStart: gitAtStart, atEnd: gitState() },
    method: {
      nodes: 3,
      classes: args.classes,
      agents: args.agents,
      writeEveryMs: WRITE_EVERY_MS,
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
      queryTimeoutMs: QUERY_TIMEOUT_MS,
      leaderPollMs: LEADER_POLL_MS,
      readyPollMs: READY_POLL_MS,
      writableProbeMs: WRITABLE_PROBE_MS,
      holdAfterTakeoverMs: HOLD_AFTER_TAKEOVER_MS,
      settleOnNewPrimaryMs: SETTLE_ON_NEW_PRIMARY_MS,
      profiles: args.profiles.map((p) => ({ name: p.name, ...p.dcs, faultWindowMs: faultWindowMs(p) })),
    },
    loadBefore,
    results,
    perRun,
    perClass,
  };
  const out = writeResults('failover', startedAt, doc, args.label ? `-${args.label}` : '');
  console.log(`raw results: ${out}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
