/**
 * Switchover benchmark: per run, a fresh 3-node LocalCluster (etcd + three agents as separate
 * processes) under a steady client write load; then a switchover to a named replica, either by
 * POST <leader>/switchover (what patronictl sends) or by the real `patronictl switchover`.
 * Measures the command's duration and answer, the write outage the client sees, when the
 * leader key went and came in etcd, when the agents logged each step, and acknowledged rows lost.
 *
 *   npx tsx bench/switchover.ts [--runs N] [--ctl-runs M] [--no-wait]
 */
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { type ClusterNode, LocalCluster, REST_AUTH } from '../src/local/cluster.ts';
import { bootstrapCluster, READY_POLL_MS } from './lib/bootstrap.ts';
import { LEADER_POLL_MS, pollLeaderKey, readLeaderKey } from './lib/etcd.ts';
import { gitState, loadInfo, machineInfo } from './lib/provenance.ts';
import { writeResults } from './lib/results.ts';
import { type Column, fmt, groupedTable, median } from './lib/table.ts';
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
const COMMAND_TIMEOUT_MS = 90_000;
const PATRONICTL = '/usr/bin/patronictl';
/** Other benchmarks that must not run at the same time (they would disturb each other). */
const OTHER_BENCHMARKS = 'bench/(health|failover).ts';
const WAIT_FOR_OTHERS_MS = 20 * 60_000;
const WAIT_POLL_MS = 15_000;

/** Patroni's defaults; the only profile measured here. */
const DCS = { ttl: 30, loop_wait: 10, retry_timeout: 10 };

type Method = 'rest' | 'patronictl';

// ---------------------------------------------------------------------------------------------
// Leader key watch: every put/delete of /service/<scope>/leader as etcd streams it (the 50 ms
// poller can miss a delete that is followed by a put within one poll).

interface KeyEvent {
  at: number;
  type: 'put' | 'delete';
  value: string | null;
}

async function watchLeaderKey(endpoint: string, scope: string) {
  const client = new Etcd3({ hosts: endpoint });
  const events: KeyEvent[] = [];
  const watcher = await client.watch().key(`/service/${scope}/leader`).create();
  watcher.on('put', (kv) => events.push({ at: now(), type: 'put', value: kv.value.toString() }));
  watcher.on('delete', () => events.push({ at: now(), type: 'delete', value: null }));
  return {
    events,
    stop: async () => {
      await watcher.cancel().catch(() => {});
      client.close();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The command: POST /switchover as patronictl sends it, or patronictl itself.

interface CommandOutcome {
  /** HTTP status (rest) or exit code (patronictl). */
  status: number | null;
  /** Response body (rest) or the last lines of patronictl's output. */
  text: string;
  expected: boolean;
  endedAt: number;
}

async function postSwitchover(leader: ClusterNode, candidate: string): Promise<CommandOutcome> {
  const auth = Buffer.from(`${REST_AUTH.username}:${REST_AUTH.password}`).toString('base64');
  try {
    const res = await fetch(`${leader.apiUrl}/switchover`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${auth}` },
      body: JSON.stringify({ leader: leader.name, candidate }),
      signal: AbortSignal.timeout(COMMAND_TIMEOUT_MS),
    });
    const text = await res.text();
    const endedAt = now();
    return {
      status: res.status,
      text,
      expected: res.status === 200 && text === `Successfully switched over to "${candidate}"`,
      endedAt,
    };
  } catch (err) {
    return {
      status: null,
      text: `request failed: ${(err as Error).message}`,
      expected: false,
      endedAt: now(),
    };
  }
}

function runPatronictl(configFile: string, home: string, leader: string, candidate: string) {
  return new Promise<CommandOutcome>((resolve) => {
    execFile(
      PATRONICTL,
      ['-c', configFile, 'switchover', '--leader', leader, '--candidate', candidate, '--force'],
      { timeout: COMMAND_TIMEOUT_MS, env: { ...process.env, HOME: home } },
      (err, stdout, stderr) => {
        const endedAt = now();
        const code = err ? (err as { code?: unknown }).code : 0;
        const out = `${stdout}${stderr}`;
        const lines = out.split('\n').filter((l) => l.trim() !== '' && !/^[+|]/.test(l));
        resolve({
          status: typeof code === 'number' ? code : null,
          text: lines.slice(-3).join(' / '),
          expected: code === 0 && out.includes(`Successfully switched over to "${candidate}"`),
          endedAt,
        });
      },
    );
  });
}

// ---------------------------------------------------------------------------------------------
// Node logs: the agent's `<ISO time> <node> <LEVEL>: <message>`, and PostgreSQL's server log
// (`<data_dir>.log`, default log_line_prefix `%m [%p] `, log_timezone UTC here) as `<node> pg: …`.

interface LogLine {
  at: number;
  node: string;
  text: string;
}

/** PostgreSQL's server log of a node, next to its data directory (src/actors/postgres/conf.ts). */
const pgLogOf = (n: ClusterNode) => `${n.dataDir}.log`;

function readLogs(cluster: LocalCluster): LogLine[] {
  const out: LogLine[] = [];
  const read = (file: string) => {
    try {
      return readFileSync(file, 'utf8').split('\n');
    } catch {
      return [];
    }
  };
  for (const n of cluster.nodes) {
    for (const line of read(n.logFile)) {
      const m = /^(\d{4}-\d\d-\d\dT[\d:.]+Z) (\S+) (.*)$/.exec(line);
      if (m) out.push({ at: Date.parse(m[1]!), node: m[2]!, text: m[3]! });
    }
    for (const line of read(pgLogOf(n))) {
      const m = /^(\d{4}-\d\d-\d\d) ([\d:.]+) UTC \[\d+\] (.*)$/.exec(line);
      if (m) out.push({ at: Date.parse(`${m[1]}T${m[2]}Z`), node: n.name, text: `pg: ${m[3]}` });
    }
  }
  return out.sort((a, b) => a.at - b.at);
}

// ---------------------------------------------------------------------------------------------
// One run.

interface RunResult {
  method: Method;
  run: number;
  ok: boolean;
  failure?: string;
  bootstrapS: number | null;
  /** Random pause between ready (writer running) and the request, 1–loop_wait s. */
  delayBeforeRequestS: number | null;
  oldPrimary: string | null;
  candidate: string | null;
  /** Leader key holder at the end, where acknowledged rows are looked for. */
  newPrimary: string | null;
  /** Every node other than the old primary that acknowledged a write, in order (> 1: split brain). */
  newPrimaries: string[];
  /** Nodes seen writable by the probe after the request (first/last relative to it, s). */
  writableAfterRequest: Record<string, { firstS: number; lastS: number; samples: number }>;
  /** Two nodes seen writable over overlapping intervals (probe resolution 200 ms). */
  writableOverlap: boolean;
  command: { status: number | null; text: string; expected: boolean } | null;
  /** All times below in s, relative to the moment the request was sent (rest) or patronictl spawned. */
  commandS: number | null;
  /** Old primary logs 'manual failover: demoting myself' (fast shutdown begins). */
  demotingS: number | null;
  lastOldAckS: number | null;
  /** etcd watch: leader key deleted (the old primary released it); null if it was never absent. */
  keyDeletedS: number | null;
  /** etcd watch: leader key put with the candidate's name. */
  keyAcquiredS: number | null;
  /** 50 ms poller, as in the failover benchmark. */
  leaderKeyGoneS: number | null;
  newLeaderKeyS: number | null;
  /** Old primary's PostgreSQL logs 'database system is shut down'. */
  oldPgDownS: number | null;
  /** Candidate's PostgreSQL logs 'received promote request' / then 'ready to accept connections'. */
  candidatePgPromoteRequestS: number | null;
  candidatePgReadyS: number | null;
  /** Candidate logs 'promoted self to leader by acquiring session lock'. */
  candidateAcquiredLogS: number | null;
  /** Candidate logs 'no action. I am (C), the leader with the lock' (promotion finished). */
  candidatePromotedLogS: number | null;
  firstNewAckS: number | null;
  outageS: number | null;
  ackedRows: number;
  ackedOnOld: number;
  ackedOnNew: number;
  lostAckedRows: number | null;
  lostIds: number[];
  ackedByNode: Record<string, number>;
  lostByNode: Record<string, number>;
  /** After the new primary settled: the old primary streams from it as a replica. */
  oldPrimaryRejoined: boolean | null;
  writerErrors: number;
  firstWriterErrors: string[];
  leaderChanges: Array<{ atS: number; value: string | null }>;
  keyEvents: Array<{ atS: number; type: string; value: string | null }>;
  /** Every node log line from 1 s before the request to 1 s after the first new write. */
  logLines: string[];
  load: ReturnType<typeof loadInfo>;
  otherBenchmarksDuringRun: string[];
  logDir: string;
}

const primaryOf = (nodes: ClusterNode[]) =>
  nodes.find((n) => n.status?.role === 'master' && n.status.state === 'running') ?? null;

function otherBenchmarks(): string[] {
  try {
    return execFileSync('pgrep', ['-af', OTHER_BENCHMARKS], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.trim() !== '');
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

let activeCluster: LocalCluster | null = null;

async function oneRun(method: Method, run: number, workRoot: string): Promise<RunResult> {
  const dir = mkdtempSync(join(workRoot, `${method}-${run}-`));
  const table = 'bench_writes';
  const result: RunResult = {
    method,
    run,
    ok: false,
    bootstrapS: null,
    delayBeforeRequestS: null,
    oldPrimary: null,
    candidate: null,
    newPrimary: null,
    newPrimaries: [],
    writableAfterRequest: {},
    writableOverlap: false,
    command: null,
    commandS: null,
    demotingS: null,
    lastOldAckS: null,
    keyDeletedS: null,
    keyAcquiredS: null,
    leaderKeyGoneS: null,
    newLeaderKeyS: null,
    oldPgDownS: null,
    candidatePgPromoteRequestS: null,
    candidatePgReadyS: null,
    candidateAcquiredLogS: null,
    candidatePromotedLogS: null,
    firstNewAckS: null,
    outageS: null,
    ackedRows: 0,
    ackedOnOld: 0,
    ackedOnNew: 0,
    lostAckedRows: null,
    lostIds: [],
    ackedByNode: {},
    lostByNode: {},
    oldPrimaryRejoined: null,
    writerErrors: 0,
    firstWriterErrors: [],
    leaderChanges: [],
    keyEvents: [],
    logLines: [],
    load: loadInfo(),
    otherBenchmarksDuringRun: [],
    logDir: dir,
  };
  const cluster = new LocalCluster({ dir, nodes: 3, scope: SCOPE, dcs: DCS });
  activeCluster = cluster;
  let writer: Writer | null = null;
  let poller: ReturnType<typeof pollLeaderKey> | null = null;
  let watch: Awaited<ReturnType<typeof watchLeaderKey>> | null = null;
  let prober: ReturnType<typeof probeWritable> | null = null;
  try {
    await cluster.init();

    result.bootstrapS = secs(await bootstrapCluster(cluster));
    const old = primaryOf(cluster.nodes)!;
    result.oldPrimary = old.name;
    const replicas = cluster.nodes.filter((n) => n !== old);
    const candidate = replicas[Math.floor(Math.random() * replicas.length)]!;
    result.candidate = candidate.name;

    await sqlOn(old.pgPort, `CREATE TABLE ${table} (id bigint PRIMARY KEY, at timestamptz DEFAULT now())`);
    poller = pollLeaderKey(cluster.etcdEndpoint, SCOPE);
    watch = await watchLeaderKey(cluster.etcdEndpoint, SCOPE);
    writer = startWriter(
      cluster.nodes.map((n) => n.pgPort),
      table,
    );
    // Not aligned with the agents' loop; at least 1 s so the old primary has acks.
    const delayMs = 1000 + Math.random() * (DCS.loop_wait - 1) * 1000;
    result.delayBeforeRequestS = secs(delayMs);
    await sleep(delayMs);
    prober = probeWritable(cluster.nodes);

    // The command. Wall clock (log timestamps) = now() + offset.
    const wallOffset = Date.now() - now();
    const sentAt = now();
    const outcome =
      method === 'rest'
        ? postSwitchover(old, candidate.name)
        : runPatronictl(cluster.nodes[0]!.configFile, dir, old.name, candidate.name);
    const recovered = await waitForNewPrimaryWrites(writer, old.pgPort, COMMAND_TIMEOUT_MS);
    const done = await outcome;
    result.command = { status: done.status, text: done.text, expected: done.expected };
    result.commandS = secs(done.endedAt - sentAt);
    await writer.stop();
    await poller.stop();
    await watch.stop();
    await prober.stop();

    const rel = (t: number | undefined) => (t === undefined ? null : secs(t - sentAt));
    const acks = writer.acks;
    const { onOld, onNew, fields } = summarizeWrites(writer, old.pgPort, sentAt);
    Object.assign(result, fields);
    for (const [name, w] of prober.seen) {
      if (name === old.name && w.last < sentAt) continue;
      result.writableAfterRequest[name] = {
        firstS: secs(w.first - sentAt)!,
        lastS: secs(w.last - sentAt)!,
        samples: w.samples,
      };
    }
    const spans = Object.values(result.writableAfterRequest);
    result.writableOverlap = spans.some((a, i) =>
      spans.some((b, j) => i !== j && a.firstS <= b.lastS && b.firstS <= a.lastS),
    );
    result.leaderChanges = poller.changes.map((c) => ({ atS: secs(c.at - sentAt)!, value: c.value }));
    const after = poller.changes.filter((c) => c.at >= sentAt);
    result.leaderKeyGoneS = rel(after.find((c) => c.value !== old.name)?.at);
    result.newLeaderKeyS = rel(after.find((c) => c.value !== null && c.value !== old.name)?.at);
    result.keyEvents = watch.events.map((e) => ({ atS: secs(e.at - sentAt)!, type: e.type, value: e.value }));
    const evAfter = watch.events.filter((e) => e.at >= sentAt);
    result.keyDeletedS = rel(evAfter.find((e) => e.type === 'delete')?.at);
    result.keyAcquiredS = rel(evAfter.find((e) => e.type === 'put' && e.value === candidate.name)?.at);

    // Agent log lines, on the benchmark's clock.
    const logs = readLogs(cluster).map((l) => ({ ...l, at: l.at - wallOffset }));
    const firstLog = (node: string, text: string) =>
      rel(logs.find((l) => l.at >= sentAt && l.node === node && l.text.includes(text))?.at);
    result.demotingS = firstLog(old.name, 'manual failover: demoting myself');
    result.oldPgDownS = firstLog(old.name, 'pg: LOG:  database system is shut down');
    result.candidatePgPromoteRequestS = firstLog(candidate.name, 'pg: LOG:  received promote request');
    result.candidatePgReadyS = firstLog(
      candidate.name,
      'pg: LOG:  database system is ready to accept connections',
    );
    result.candidateAcquiredLogS = firstLog(
      candidate.name,
      'promoted self to leader by acquiring session lock',
    );
    result.candidatePromotedLogS = firstLog(
      candidate.name,
      `no action. I am (${candidate.name}), the leader with the lock`,
    );
    const windowEnd = (onNew[0]?.at ?? now()) + 1000;
    result.logLines = logs
      .filter((l) => l.at >= sentAt - 1000 && l.at <= windowEnd)
      .map((l) => `${fmt(secs(l.at - sentAt), 3)} ${l.node} ${l.text}`);

    if (!recovered || !onNew[0])
      throw new Error(`no write acknowledged by a new primary within ${COMMAND_TIMEOUT_MS / 1000} s`);
    const nameOf = (port: number) => cluster.nodes.find((n) => n.pgPort === port)?.name ?? String(port);
    result.newPrimaries = [...new Set(onNew.map((a) => a.port))].map(nameOf);
    const finalLeader = await readLeaderKey(cluster.etcdEndpoint, SCOPE);
    const newPort = finalLeader ? cluster.node(finalLeader).pgPort : onNew.at(-1)!.port;
    result.newPrimary = nameOf(newPort);
    result.outageS = secs(onNew[0].at - onOld.at(-1)!.at);

    // Every acknowledged row must be on the new primary.
    const lost = await missingIds(
      newPort,
      table,
      acks.map((a) => a.id),
    );
    result.lostAckedRows = lost.length;
    result.lostIds = lost;
    const lostSet = new Set(lost);
    for (const a of acks) {
      const name = nameOf(a.port);
      result.ackedByNode[name] = (result.ackedByNode[name] ?? 0) + 1;
      if (lostSet.has(a.id)) result.lostByNode[name] = (result.lostByNode[name] ?? 0) + 1;
    }

    // The old primary should follow the new one (bounded wait; not part of the timings).
    result.oldPrimaryRejoined = await cluster.waitFor(
      (nodes) => LocalCluster.isReady(nodes, () => true) && primaryOf(nodes)?.name === result.newPrimary,
      30_000,
      250,
    );
    result.ok = true;
  } catch (err) {
    result.failure = (err as Error).message;
  } finally {
    await writer?.stop().catch(() => {});
    await poller?.stop().catch(() => {});
    await watch?.stop().catch(() => {});
    await prober?.stop().catch(() => {});
    result.otherBenchmarksDuringRun = otherBenchmarks();
    await cluster.stop().catch((err) => console.error(`stop: ${(err as Error).message}`));
    activeCluster = null;
    // Keep the node logs (and PostgreSQL's, copied next to them); the data directories are large.
    for (const n of cluster.nodes) {
      if (existsSync(pgLogOf(n))) copyFileSync(pgLogOf(n), join(dir, `${n.name}.pg.log`));
    }
    for (const n of cluster.nodes) rmSync(dirname(n.dataDir), { recursive: true, force: true });
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Summary.

const diff = (a: number | null, b: number | null) => (a !== null && b !== null ? a - b : null);

const COLUMNS: Array<Column<RunResult>> = [
  { head: 'delay s', get: (r) => r.delayBeforeRequestS },
  { head: 'command s', get: (r) => r.commandS },
  { head: 'req→demoting (log) s', get: (r) => r.demotingS },
  { head: 'req→last old ack s', get: (r) => r.lastOldAckS },
  { head: 'req→key deleted s', get: (r) => r.keyDeletedS },
  { head: 'req→key is candidate s', get: (r) => r.keyAcquiredS },
  { head: 'req→candidate pg ready s', get: (r) => r.candidatePgReadyS },
  { head: 'req→first new ack s', get: (r) => r.firstNewAckS },
  { head: 'write outage s', get: (r) => r.outageS },
  { head: 'acked rows', get: (r) => r.ackedRows, digits: 0 },
  { head: 'lost acked', get: (r) => r.lostAckedRows, digits: 0 },
];

/**
 * The outage, from the last row the old primary acknowledged to the first the new one did, cut at
 * the steps between (each from the agents' or PostgreSQL's log, or the etcd watch). The first five
 * add up to the outage when every step was seen.
 */
const PHASES: Array<Column<RunResult>> = [
  { head: 'last old ack→old pg shut down s', get: (r) => diff(r.oldPgDownS, r.lastOldAckS) },
  { head: 'old pg down→key deleted s', get: (r) => diff(r.keyDeletedS, r.oldPgDownS) },
  { head: 'key deleted→candidate holds key s', get: (r) => diff(r.keyAcquiredS, r.keyDeletedS) },
  { head: 'holds key→candidate pg ready s', get: (r) => diff(r.candidatePgReadyS, r.keyAcquiredS) },
  { head: 'pg ready→first new ack s', get: (r) => diff(r.firstNewAckS, r.candidatePgReadyS) },
  { head: 'write outage s', get: (r) => r.outageS },
  { head: 'req→demoting (log) s', get: (r) => r.demotingS },
  { head: 'demoting→last old ack s', get: (r) => diff(r.lastOldAckS, r.demotingS) },
  { head: 'holds key→pg promote request s', get: (r) => diff(r.candidatePgPromoteRequestS, r.keyAcquiredS) },
  {
    head: 'first new ack→"leader with the lock" (log) s',
    get: (r) => diff(r.candidatePromotedLogS, r.firstNewAckS),
  },
  { head: 'first new ack→command returns s', get: (r) => diff(r.commandS, r.firstNewAckS) },
];

const GROUPS: Array<{ method: Method; name: string }> = [
  { method: 'rest', name: 'POST /switchover' },
  { method: 'patronictl', name: 'patronictl' },
];

function groups(results: RunResult[]) {
  return GROUPS.map((g) => ({ name: g.name, runs: results.filter((r) => r.method === g.method) }));
}

function summaryTable(results: RunResult[]): string {
  return groupedTable({
    groupHead: 'command',
    groups: groups(results),
    columns: COLUMNS,
    text: [
      {
        head: 'answer',
        get: (r) => (r.command ? `${r.command.status} ${r.command.text}`.replaceAll('|', '\\|') : '—'),
      },
      {
        head: 'old→candidate; acked after request',
        get: (r) =>
          r.ok ? `${r.oldPrimary}→${r.candidate}; ${r.newPrimaries.join('→')}` : `FAILED: ${r.failure}`,
      },
      {
        head: 'writable after request (probe, s)',
        get: (r) =>
          Object.entries(r.writableAfterRequest)
            .map(([name, w]) => `${name} ${fmt(w.firstS)}…${fmt(w.lastS)}`)
            .join(', ') + (r.writableOverlap ? ' OVERLAP' : ''),
      },
    ],
  });
}

function phaseTable(results: RunResult[]): string {
  return groupedTable({ groupHead: 'command', groups: groups(results), columns: PHASES, text: [] });
}

// ---------------------------------------------------------------------------------------------
// Main.

function parseArgs(argv: string[]): { runs: number; ctlRuns: number; wait: boolean } {
  let runs = 5;
  let ctlRuns = 3;
  let wait = true;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--runs') runs = Number(argv[++i]);
    else if (argv[i] === '--ctl-runs') ctlRuns = Number(argv[++i]);
    else if (argv[i] === '--no-wait') wait = false;
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer');
  if (!Number.isInteger(ctlRuns) || ctlRuns < 0) throw new Error('--ctl-runs must be an integer ≥ 0');
  if (ctlRuns > 0 && !existsSync(PATRONICTL)) throw new Error(`${PATRONICTL} is not installed`);
  return { runs, ctlRuns, wait };
}

/** Waits (bounded) until no other benchmark runs; returns what it saw. */
async function waitForOthers(): Promise<{ waitedS: number; seenAtStart: string[]; gaveUp: boolean }> {
  const started = now();
  const seenAtStart = otherBenchmarks();
  let others = seenAtStart;
  while (others.length > 0 && now() - started < WAIT_FOR_OTHERS_MS) {
    console.log(`waiting for other benchmarks to finish: ${others.join('; ')}`);
    await sleep(WAIT_POLL_MS);
    others = otherBenchmarks();
  }
  return { waitedS: secs(now() - started)!, seenAtStart, gaveUp: others.length > 0 };
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
  const { runs, ctlRuns, wait } = parseArgs(process.argv.slice(2));
  onInterrupt();
  const waited = wait ? await waitForOthers() : null;
  if (waited?.gaveUp) console.log('other benchmarks still running after 20 min: measuring anyway (recorded)');
  const workRoot = mkdtempSync(join(tmpdir(), 'pgwarden-bench-switchover-'));
  chmodSync(workRoot, 0o755); // the agents run as the postgres OS user
  console.log(`node logs under ${workRoot}`);
  const startedAt = new Date();
  const gitAtStart = gitState();
  const loadAtStart = loadInfo();
  console.log(`load: ${loadAtStart.uptime}`);
  // Interleaved, so that a change in machine load affects both commands alike.
  const plan: Array<{ method: Method; run: number }> = [];
  for (let i = 1; i <= Math.max(runs, ctlRuns); i++) {
    if (i <= runs) plan.push({ method: 'rest', run: i });
    if (i <= ctlRuns) plan.push({ method: 'patronictl', run: i });
  }
  const results: RunResult[] = [];
  for (const { method, run } of plan) {
    console.log(
      `[${method} ${run}/${method === 'rest' ? runs : ctlRuns}] ttl ${DCS.ttl}, loop_wait ${DCS.loop_wait}`,
    );
    const r = await oneRun(method, run, workRoot);
    results.push(r);
    console.log(
      r.ok
        ? `  ${r.oldPrimary}→${r.candidate}: command ${fmt(r.commandS)} s (${r.command?.status} ${r.command?.text}), ` +
            `outage ${fmt(r.outageS)} s (last old ack +${fmt(r.lastOldAckS)}, key deleted +${fmt(r.keyDeletedS)}, ` +
            `candidate key +${fmt(r.keyAcquiredS)}, pg ready +${fmt(r.candidatePgReadyS)}, first new ack +${fmt(r.firstNewAckS)}), ` +
            `lost ${r.lostAckedRows}/${r.ackedRows}, writable overlap ${r.writableOverlap}, old rejoined ${r.oldPrimaryRejoined}`
        : `  FAILED: ${r.failure}`,
    );
  }
  const table = summaryTable(results);
  const phases = phaseTable(results);
  console.log(`\n${table}\n\n${phases}\n`);
  const ok = results.filter((r) => r.ok);
  const med = (m: Method, get: (r: RunResult) => number | null) =>
    median(
      ok
        .filter((r) => r.method === m)
        .map(get)
        .filter((x): x is number => x !== null),
    );
  const doc = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: machineInfo(),
    load: { atStart: loadAtStart, atEnd: loadInfo() },
    waitForOtherBenchmarks: waited,
    code: { atStart: gitAtStart, atEnd: gitState() },
    method: {
      nodes: 3,
      dcs: DCS,
      writeEveryMs: WRITE_EVERY_MS,
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
      leaderPollMs: LEADER_POLL_MS,
      readyPollMs: READY_POLL_MS,
      settleOnNewPrimaryMs: SETTLE_ON_NEW_PRIMARY_MS,
      writableProbeMs: WRITABLE_PROBE_MS,
      runs,
      ctlRuns,
    },
    medians: Object.fromEntries(
      GROUPS.map((g) => [
        g.method,
        {
          commandS: med(g.method, (r) => r.commandS),
          outageS: med(g.method, (r) => r.outageS),
          lostAckedRows: med(g.method, (r) => r.lostAckedRows),
        },
      ]),
    ),
    results,
    table,
    phases,
  };
  const out = writeResults('switchover', startedAt, doc);
  console.log(`raw results: ${out}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
