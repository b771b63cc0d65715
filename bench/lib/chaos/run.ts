/**
 * One chaos run: a fresh test network (a namespace per node and per etcd member), a 3-member
 * etcd, a 3-node cluster of one agent kind, the set workload and the role watch running all
 * along, then the planned faults one after another — inject, hold, heal, wait until the
 * cluster has settled (one writable leader, every node streaming, every etcd member up) — and
 * at the end every id read back from the final leader. Everything it started is stopped by pid
 * and by name, also when the run fails.
 */
import { chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { LocalCluster, SUPERUSER } from '../../../src/local/cluster.ts';
import { lookupUser } from '../../../src/local/os-user.ts';
import { removeStale, TestNetwork } from '../../../test/helpers/netns.ts';
import { agentArgv, fastFailoverYaml } from '../agents.ts';
import { bootstrapCluster } from '../bootstrap.ts';
import { gitState } from '../provenance.ts';
import { sleep } from '../time.ts';
import { EtcdCluster } from './etcd-cluster.ts';
import { type ChaosContext, inject, type PlannedFault } from './faults.ts';
import { watchRoles } from './roles.ts';
import type { AgentKind, FaultRecord, RunRecord } from './types.ts';
import { createTable, readAll, startWorkload } from './workload.ts';

const TABLE = 'chaos_set';
/** Steady writes between two faults, so that every fault starts from a working cluster. */
export const GAP_MS = 3000;
/** How long a cluster may take to settle after a fault is healed before the run says it did not. */
export const SETTLE_TIMEOUT_MS = 120_000;

export interface ChaosOptions {
  agent: AgentKind;
  seed: number;
  synchronous: boolean;
  dcs: { ttl: number; loop_wait: number; retry_timeout: number };
  plan: PlannedFault[];
  /** Where the agents' logs are copied at the end (null: nowhere). */
  logsTo: string | null;
  log: (line: string) => void;
  /** Aborted (e.g. on Ctrl-C): no further fault begins; the run heals, reads back and cleans up. */
  signal?: AbortSignal;
}

export async function runChaos(o: ChaosOptions): Promise<RunRecord> {
  for (const name of removeStale()) o.log(`removed ${name}, left by an earlier run that died`);
  const t0 = performance.now();
  const clock = () => performance.now() - t0;
  const startedAt = new Date().toISOString();
  // The code under test is what the agents load at start (src/ is read at every spawn).
  const commit = gitState().head ?? 'unknown';
  const dir = mkdtempSync(join(tmpdir(), 'pgwarden-chaos-'));
  const user = lookupUser('postgres');
  if (user) chownSync(dir, user.uid, user.gid);
  const net = new TestNetwork(3, 3);
  const etcd = new EtcdCluster(net, join(dir, 'etcd'));
  mkdirSync(join(dir, 'etcd'));
  const dcs = {
    ...o.dcs,
    synchronous_mode: o.synchronous,
    maximum_lag_on_failover: 1048576,
    postgresql: { use_pg_rewind: true, use_slots: true },
  };
  const makeCluster = () =>
    new LocalCluster({
      dir: join(dir, 'cluster'),
      nodes: 3,
      scope: 'chaos',
      dcs,
      network: net.local(),
      etcdEndpoints: etcd.endpoints(),
      agentArgv: agentArgv(o.agent),
      editConfig: (_n, doc) => ({ ...doc, ...fastFailoverYaml(o.agent) }),
    });
  let cluster: LocalCluster | null = null;
  const faults: FaultRecord[] = [];
  let workload: ReturnType<typeof startWorkload> | null = null;
  let roles: ReturnType<typeof watchRoles> | null = null;
  try {
    net.create();
    await etcd.start();
    cluster = makeCluster();
    await cluster.init();
    const bootMs = await bootstrapCluster(cluster);
    o.log(`${o.agent}: cluster ready in ${(bootMs / 1000).toFixed(1)} s on ${net.subnet}.0/24`);
    const nodes = cluster.nodes.map((n) => ({ name: n.name, host: n.host, port: n.pgPort }));
    const access = { user: SUPERUSER.username, password: SUPERUSER.password, table: TABLE };
    roles = watchRoles(cluster, clock);
    const first = (await cluster.leader()) ?? cluster.nodes[0]!.name;
    await createTable(nodes.find((n) => n.name === first)!, access);
    workload = startWorkload({ nodes, ...access, clock });
    const ctx: ChaosContext = { cluster, net, etcd, ttl: o.dcs.ttl, synchronous: o.synchronous };

    for (const [i, planned] of o.plan.entries()) {
      await sleep(GAP_MS);
      if (o.signal?.aborted) {
        o.log(`stopped before fault #${i + 1}: ${String(o.signal.reason ?? 'aborted')}`);
        break;
      }
      const leader = roles.leader() ?? (await cluster.leader());
      const start = clock();
      const active = await inject(ctx, planned, leader);
      await sleep(planned.holdMs);
      const healedAt = planned.holdMs > 0 ? clock() : null;
      await active.heal();
      const settled = await waitSettled(cluster, etcd, SETTLE_TIMEOUT_MS);
      const rec: FaultRecord = {
        seq: i + 1,
        kind: planned.kind,
        target: active.target,
        targetRole: active.targetRole,
        holdMs: planned.holdMs,
        start: Math.round(start),
        healed: healedAt === null ? null : Math.round(healedAt),
        settled: settled ? Math.round(clock()) : null,
        notes: active.notes,
      };
      faults.push(rec);
      o.log(describe(rec, o.plan.length));
      if (!settled) {
        // What the cluster looked like when the wait gave up, and each agent's last words: a
        // run on another machine leaves only its output behind.
        for (const line of await unsettledState(cluster)) o.log(`  ${line}`);
        await reviveAll(cluster, etcd);
      }
    }

    await sleep(GAP_MS);
    await workload.stop();
    const finalLeader = roles.leader() ?? (await cluster.leader());
    const ids = finalLeader
      ? await readAll(nodes.find((n) => n.name === finalLeader)!, access).catch(() => null)
      : null;
    await roles.stop();
    return {
      agent: o.agent,
      seed: o.seed,
      synchronous: o.synchronous,
      dcs,
      nodes: cluster.nodes.map((n) => n.name),
      plan: o.plan,
      faults,
      attempts: workload.attempts,
      roles: roles.samples,
      final: { leader: finalLeader, ids, at: Math.round(clock()) },
      startedAt,
      commit,
      durationMs: Math.round(clock()),
    };
  } finally {
    await workload?.stop().catch(() => {});
    await roles?.stop().catch(() => {});
    net.healAll();
    await cluster?.stop().catch((err) => o.log(`stopping the cluster: ${(err as Error).message}`));
    await etcd.stop();
    if (o.logsTo && cluster) copyLogs(cluster, o.logsTo);
    net.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One writable leader, every running node streaming from it, every etcd member up and a quorum. */
async function waitSettled(cluster: LocalCluster, etcd: EtcdCluster, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  if (!(await etcd.waitHealthy(timeoutMs))) return false;
  return cluster.waitFor(
    (nodes) =>
      nodes.every((n) => cluster.isRunning(n.name)) &&
      LocalCluster.isReady(nodes, (n) => cluster.isRunning(n.name)),
    Math.max(0, deadline - Date.now()),
    500,
  );
}

/** Each node's last status (role, state, timeline, WAL positions, replication) and log tail. */
async function unsettledState(cluster: LocalCluster): Promise<string[]> {
  const lines: string[] = [];
  for (const n of await cluster.poll()) {
    const st = n.status;
    const running = cluster.isRunning(n.name) ? 'agent running' : 'agent NOT running';
    const doc = st
      ? JSON.stringify({
          role: st.role,
          state: st.state,
          timeline: st.timeline,
          xlog: st.xlog,
          replication: st.replication,
          replication_state: st.replication_state,
        })
      : 'no answer from GET /patroni';
    lines.push(`${n.name}: ${running}; ${doc}`);
    const tail = existsSync(n.logFile)
      ? readFileSync(n.logFile, 'utf8').trimEnd().split('\n').slice(-LOG_TAIL_LINES)
      : [];
    for (const l of tail) lines.push(`  | ${l}`);
    const serverLog = `${n.dataDir}.log`;
    const pgTail = existsSync(serverLog)
      ? readFileSync(serverLog, 'utf8').trimEnd().split('\n').slice(-PG_LOG_TAIL_LINES)
      : [];
    for (const l of pgTail) lines.push(`  pg| ${l}`);
  }
  return lines;
}

const LOG_TAIL_LINES = 25;
const PG_LOG_TAIL_LINES = 10;

/** After a fault that did not settle: every etcd member and agent running again. */
async function reviveAll(cluster: LocalCluster, etcd: EtcdCluster): Promise<void> {
  for (let m = 0; m < etcd.size; m++) await etcd.restart(m);
  for (const n of cluster.nodes) if (!cluster.isRunning(n.name)) cluster.startNode(n.name);
}

function describe(f: FaultRecord, total: number): string {
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const target = f.target ? ` ${f.target} (${f.targetRole})` : '';
  const held = f.holdMs > 0 ? `, held ${s(f.holdMs)}` : '';
  const end = f.settled === null ? 'DID NOT SETTLE' : `settled ${s(f.settled - (f.healed ?? f.start))} after`;
  return `#${f.seq}/${total} ${f.kind}${target}${held}, ${end}`;
}

function copyLogs(cluster: LocalCluster, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const n of cluster.nodes) {
    if (existsSync(n.logFile)) cpSync(n.logFile, join(to, basename(n.logFile)));
    // PostgreSQL's own log (pg_ctl -l, next to the data directory): what the agent cannot say,
    // such as which WAL a standby confirmed or why a walsender stopped.
    const serverLog = `${n.dataDir}.log`;
    if (existsSync(serverLog)) cpSync(serverLog, join(to, `${n.name}.postgres.log`));
  }
}
