/**
 * Failover benchmark: per run, a fresh 3-node LocalCluster (etcd + three agents as separate
 * processes). Measures bootstrap time, then kills the whole primary node (kill -9 of agent and
 * postmaster) under a steady client write load and measures the write outage as the client
 * sees it, when the leader key expired and changed in etcd, and acknowledged rows lost.
 *
 *   npx tsx bench/failover.ts [--runs N] [--profile slow|fast|both] [--kill-window loop_wait|refresh]
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { type ClusterNode, LocalCluster } from '../src/local/cluster.ts';
import { refreshIntervalMs } from '../src/machines/election.ts';
import { bootstrapCluster, READY_POLL_MS } from './lib/bootstrap.ts';
import { LEADER_POLL_MS, pollLeaderKey, readLeaderKey } from './lib/etcd.ts';
import { gitState, machineInfo } from './lib/provenance.ts';
import { writeResults } from './lib/results.ts';
import { type Column, fmt, groupedTable } from './lib/table.ts';
import { now, secs, sleep } from './lib/time.ts';
import {
  CONNECT_TIMEOUT_MS,
  missingIds,
  probeWritable,
  SETTLE_ON_NEW_PRIMARY_MS,
  sqlOn,
  startWriter,
  summarizeWrites,
  WRITABLE_PROBE_MS,
  WRITE_EVERY_MS,
  type Writer,
  waitForNewPrimaryWrites,
} from './lib/writer.ts';

const SCOPE = 'bench';

interface Profile {
  name: 'slow' | 'fast';
  dcs: { ttl: number; loop_wait: number; retry_timeout: number };
}

const PROFILES: Record<Profile['name'], Profile> = {
  slow: { name: 'slow', dcs: { ttl: 30, loop_wait: 10, retry_timeout: 10 } },
  fast: { name: 'fast', dcs: { ttl: 10, loop_wait: 2, retry_timeout: 4 } },
};

/**
 * The kill comes a uniformly random time after the cluster is ready, so that it does not align
 * with the leader's lease refresh. `loop_wait`: 0–loop_wait s (Patroni's refresh period).
 * `refresh`: 0–pgwarden's actual refresh period, max(loop_wait, ttl − margin − retry_timeout),
 * which is longer than loop_wait for both profiles (18 s and 5 s).
 */
type KillWindow = 'loop_wait' | 'refresh';

function killWindowMs(profile: Profile, window: KillWindow): number {
  if (window === 'loop_wait') return profile.dcs.loop_wait * 1000;
  return refreshIntervalMs({
    ...profile.dcs,
    maximum_lag_on_failover: 1048576,
    check_timeline: false,
    synchronous_mode: false,
  });
}

// ---------------------------------------------------------------------------------------------
// One run.

interface RunResult {
  profile: Profile['name'];
  run: number;
  ok: boolean;
  failure?: string;
  /** agents started → one leader + two streaming replicas (s). */
  bootstrapS: number | null;
  /** random pause between ready and kill (s), drawn from 0–killWindowS. */
  delayBeforeKillS: number | null;
  killWindowS: number;
  oldPrimary: string | null;
  /** Leader at the end, where acknowledged rows are looked for. */
  newPrimary: string | null;
  /** Every node that acknowledged a write after the kill, in order (more than one: split brain). */
  newPrimaries: string[];
  /** Surviving nodes seen writable by the probe after the kill (first/last relative to the kill, s). */
  writableAfterKill: Record<string, { firstS: number; lastS: number; samples: number }>;
  /** All times below are relative to the kill instant (s). */
  lastOldAckS: number | null;
  leaderKeyGoneS: number | null;
  newLeaderKeyS: number | null;
  firstNewAckS: number | null;
  /** firstNewAck − lastOldAck: the write outage the client saw (s). */
  outageS: number | null;
  ackedRows: number;
  ackedOnOld: number;
  ackedOnNew: number;
  lostAckedRows: number | null;
  lostIds: number[];
  /** Acknowledged rows per node, and the lost ones per node that acknowledged them. */
  ackedByNode: Record<string, number>;
  lostByNode: Record<string, number>;
  writerErrors: number;
  firstWriterErrors: string[];
  leaderChanges: Array<{ atS: number; value: string | null }>;
  logDir: string;
  logExcerpt?: Record<string, string[]>;
}

const primaryOf = (nodes: ClusterNode[]) =>
  nodes.find((n) => n.status?.role === 'master' && n.status.state === 'running') ?? null;

const LOG_PATTERN =
  /leader|lock|promot|lease|fail|error|fatal|timeline|rewind|demot|acquir|expir|race|healthiest|DCS/i;

function logExcerpt(cluster: LocalCluster, maxLines = 40): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const n of cluster.nodes) {
    try {
      const lines = readFileSync(n.logFile, 'utf8').split('\n');
      out[n.name] = lines.filter((l) => LOG_PATTERN.test(l)).slice(-maxLines);
    } catch {
      out[n.name] = [];
    }
  }
  return out;
}

let activeCluster: LocalCluster | null = null;

async function oneRun(
  profile: Profile,
  run: number,
  window: KillWindow,
  workRoot: string,
): Promise<RunResult> {
  const dir = mkdtempSync(join(workRoot, `${profile.name}-${run}-`));
  const { ttl } = profile.dcs;
  const table = 'bench_writes';
  const result: RunResult = {
    profile: profile.name,
    run,
    ok: false,
    bootstrapS: null,
    delayBeforeKillS: null,
    killWindowS: killWindowMs(profile, window) / 1000,
    oldPrimary: null,
    newPrimary: null,
    newPrimaries: [],
    writableAfterKill: {},
    lastOldAckS: null,
    leaderKeyGoneS: null,
    newLeaderKeyS: null,
    firstNewAckS: null,
    outageS: null,
    ackedRows: 0,
    ackedOnOld: 0,
    ackedOnNew: 0,
    lostAckedRows: null,
    lostIds: [],
    ackedByNode: {},
    lostByNode: {},
    writerErrors: 0,
    firstWriterErrors: [],
    leaderChanges: [],
    logDir: dir,
  };
  const cluster = new LocalCluster({ dir, nodes: 3, scope: SCOPE, dcs: profile.dcs });
  activeCluster = cluster;
  let writer: Writer | null = null;
  let poller: ReturnType<typeof pollLeaderKey> | null = null;
  let prober: ReturnType<typeof probeWritable> | null = null;
  try {
    await cluster.init();

    // 1. Bootstrap.
    result.bootstrapS = secs(await bootstrapCluster(cluster));
    const old = primaryOf(cluster.nodes)!;
    result.oldPrimary = old.name;

    // 2. Steady writes on the old primary, then kill it at a random point of the loop.
    await sqlOn(old.pgPort, `CREATE TABLE ${table} (id bigint PRIMARY KEY, at timestamptz DEFAULT now())`);
    poller = pollLeaderKey(cluster.etcdEndpoint, SCOPE);
    writer = startWriter(
      cluster.nodes.map((n) => n.pgPort),
      table,
    );
    const delayMs = Math.max(500, Math.random() * result.killWindowS * 1000); // ≥ a few acks on the old primary
    result.delayBeforeKillS = secs(delayMs);
    await sleep(delayMs);
    prober = probeWritable(cluster.nodes.filter((n) => n.name !== old.name));
    const killedAt = now();
    await cluster.killNode(old.name);

    // 3. Wait for writes on the new primary (bounded), then stop the load.
    const recovered = await waitForNewPrimaryWrites(writer, old.pgPort, (3 * ttl + 60) * 1000);
    await writer.stop();
    await poller.stop();
    await prober.stop();
    const rel = (t: number | undefined) => (t === undefined ? null : secs(t - killedAt));
    const acks = writer.acks;
    const { onOld, onNew, fields } = summarizeWrites(writer, old.pgPort, killedAt);
    Object.assign(result, fields);
    for (const [name, w] of prober.seen) {
      result.writableAfterKill[name] = {
        firstS: secs(w.first - killedAt)!,
        lastS: secs(w.last - killedAt)!,
        samples: w.samples,
      };
    }
    result.leaderChanges = poller.changes.map((c) => ({ atS: secs(c.at - killedAt)!, value: c.value }));
    const afterKill = poller.changes.filter((c) => c.at >= killedAt);
    result.leaderKeyGoneS = rel(afterKill.find((c) => c.value !== old.name)?.at);
    result.newLeaderKeyS = rel(afterKill.find((c) => c.value !== null && c.value !== old.name)?.at);
    if (!recovered || !onNew[0]) {
      throw new Error('no write acknowledged by a new primary within 3·ttl + 60 s');
    }
    // Count losses on the node that holds the leader key at the end (the writer's last primary if
    // etcd does not answer); with more than one node acknowledging after the kill, that matters.
    result.newPrimaries = [...new Set(onNew.map((a) => a.port))].map(
      (p) => cluster.nodes.find((n) => n.pgPort === p)?.name ?? String(p),
    );
    const finalLeader = await readLeaderKey(cluster.etcdEndpoint, SCOPE);
    const newPort = finalLeader ? cluster.node(finalLeader).pgPort : onNew.at(-1)!.port;
    result.newPrimary = cluster.nodes.find((n) => n.pgPort === newPort)?.name ?? null;
    result.outageS = secs(onNew[0].at - onOld.at(-1)!.at);

    // 4. Every acknowledged row must be on the new primary.
    const lost = await missingIds(
      newPort,
      table,
      acks.map((a) => a.id),
    );
    result.lostAckedRows = lost.length;
    result.lostIds = lost;
    const nameOf = (port: number) => cluster.nodes.find((n) => n.pgPort === port)?.name ?? String(port);
    const lostSet = new Set(lost);
    for (const a of acks) {
      const name = nameOf(a.port);
      result.ackedByNode[name] = (result.ackedByNode[name] ?? 0) + 1;
      if (lostSet.has(a.id)) result.lostByNode[name] = (result.lostByNode[name] ?? 0) + 1;
    }
    result.ok = true;
  } catch (err) {
    result.failure = (err as Error).message;
  } finally {
    await writer?.stop().catch(() => {});
    await poller?.stop().catch(() => {});
    await prober?.stop().catch(() => {});
    const anomaly =
      !result.ok ||
      (result.lostAckedRows ?? 0) > 0 ||
      result.newPrimaries.length > 1 ||
      Object.keys(result.writableAfterKill).length > 1;
    if (anomaly) result.logExcerpt = logExcerpt(cluster);
    await cluster.stop().catch((err) => console.error(`stop: ${(err as Error).message}`));
    activeCluster = null;
    // Keep the node logs; the data directories are large.
    for (const n of cluster.nodes) rmSync(dirname(n.dataDir), { recursive: true, force: true });
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Summary.

const COLUMNS: Array<Column<RunResult>> = [
  { head: 'bootstrap s', get: (r) => r.bootstrapS },
  { head: 'kill delay s', get: (r) => r.delayBeforeKillS },
  { head: 'kill→lease gone s', get: (r) => r.leaderKeyGoneS },
  { head: 'kill→new leader key s', get: (r) => r.newLeaderKeyS },
  {
    head: 'new key→first write s',
    get: (r) =>
      r.firstNewAckS !== null && r.newLeaderKeyS !== null ? r.firstNewAckS - r.newLeaderKeyS : null,
  },
  { head: 'write outage s', get: (r) => r.outageS },
  { head: 'acked rows', get: (r) => r.ackedRows, digits: 0 },
  { head: 'lost acked', get: (r) => r.lostAckedRows, digits: 0 },
];

function summaryTable(results: RunResult[]): string {
  return groupedTable({
    groupHead: 'profile',
    groups: (['slow', 'fast'] as const).map((name) => ({
      name,
      runs: results.filter((r) => r.profile === name),
    })),
    columns: COLUMNS,
    text: [
      {
        head: 'old primary→nodes that acked after kill',
        get: (r) => (r.ok ? `${r.oldPrimary}→${r.newPrimaries.join('→')}` : `FAILED: ${r.failure}`),
      },
      { head: 'writable after kill (probe)', get: (r) => Object.keys(r.writableAfterKill).join(', ') || '—' },
    ],
  });
}

// ---------------------------------------------------------------------------------------------
// Main.

function parseArgs(argv: string[]): { runs: number; profiles: Profile[]; window: KillWindow } {
  let runs = 3;
  let profile = 'both';
  let window = 'loop_wait';
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--runs') runs = Number(argv[++i]);
    else if (argv[i] === '--profile') profile = argv[++i] ?? '';
    else if (argv[i] === '--kill-window') window = argv[++i] ?? '';
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (window !== 'loop_wait' && window !== 'refresh')
    throw new Error('--kill-window must be loop_wait or refresh');
  if (!Number.isInteger(runs) || runs < 3) throw new Error('--runs must be an integer ≥ 3 (medians)');
  if (profile !== 'both' && profile !== 'slow' && profile !== 'fast')
    throw new Error('--profile must be slow, fast or both');
  const profiles = profile === 'both' ? [PROFILES.slow, PROFILES.fast] : [PROFILES[profile]];
  return { runs, profiles, window };
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

async function main(): Promise<void> {
  const { runs, profiles, window } = parseArgs(process.argv.slice(2));
  onInterrupt();
  const workRoot = mkdtempSync(join(tmpdir(), 'pgwarden-bench-'));
  chmodSync(workRoot, 0o755); // the agents run as the postgres OS user
  console.log(`node logs under ${workRoot}`);
  const startedAt = new Date();
  const gitAtStart = gitState();
  const results: RunResult[] = [];
  for (const profile of profiles) {
    for (let run = 1; run <= runs; run++) {
      console.log(
        `[${profile.name} ${run}/${runs}] ttl ${profile.dcs.ttl}, loop_wait ${profile.dcs.loop_wait}, ` +
          `kill 0–${killWindowMs(profile, window) / 1000} s after ready`,
      );
      const r = await oneRun(profile, run, window, workRoot);
      results.push(r);
      console.log(
        r.ok
          ? `  bootstrap ${fmt(r.bootstrapS)} s, outage ${fmt(r.outageS)} s ` +
              `(lease gone +${fmt(r.leaderKeyGoneS)} s, new key +${fmt(r.newLeaderKeyS)} s, ` +
              `first write +${fmt(r.firstNewAckS)} s), lost ${r.lostAckedRows}/${r.ackedRows}, ` +
              `acked after kill by ${r.newPrimaries.join(',')}, writable after kill ${Object.keys(r.writableAfterKill).join(',')}`
          : `  FAILED: ${r.failure}`,
      );
    }
  }
  const table = summaryTable(results);
  console.log(`\n${table}\n`);
  const suffix = window === 'loop_wait' ? '' : `-kill-window-${window}`;
  const doc = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: machineInfo(),
    code: { atStart: gitAtStart, atEnd: gitState() },
    method: {
      nodes: 3,
      writeEveryMs: WRITE_EVERY_MS,
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
      leaderPollMs: LEADER_POLL_MS,
      readyPollMs: READY_POLL_MS,
      settleOnNewPrimaryMs: SETTLE_ON_NEW_PRIMARY_MS,
      writableProbeMs: WRITABLE_PROBE_MS,
      killWindow: window,
      profiles: profiles.map((p) => ({ name: p.name, ...p.dcs })),
    },
    results,
    table,
  };
  // Never overwrite an earlier dataset: a second batch on the same day gets its start time appended.
  const out = writeResults('failover', startedAt, doc, suffix);
  console.log(`raw results: ${out}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
