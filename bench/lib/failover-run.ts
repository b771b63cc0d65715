/**
 * One run of the failover benchmark: a fresh 3-node cluster of one agent kind, a client writing
 * through the whole run, a probe writing to every node, one fault done to the leader, then what
 * the clients saw. All waits are bounded; everything started is stopped by its pid at the end.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type ClusterNode, LocalCluster } from '../../src/local/cluster.ts';
import { type AgentKind, agentArgv, etcdThroughProxy, type Profile } from './agents.ts';
import { bootstrapCluster } from './bootstrap.ts';
import { pollLeaderKey, readLeaderKey } from './etcd.ts';
import { type FailureClass, makeFault } from './faults.ts';
import { overlapOfNodes, runsOf } from './intervals.ts';
import { type CuttableProxy, startProxy } from './proxy.ts';
import { now, secs, sleep } from './time.ts';
import {
  missingIds,
  probeWritable,
  sqlOn,
  startWriter,
  WRITABLE_PROBE_MS,
  waitForNewPrimaryWrites,
} from './writer.ts';

export const SCOPE = 'bench';
const WRITES = 'bench_writes';
const PROBES = 'bench_probe';
/** After another node is writable, how long the fault stays as it is (freeze, dead agent). */
export const HOLD_AFTER_TAKEOVER_MS = 3000;
/** After the fault's last action, how long until the writer must have settled on another node. */
const RECOVERY_TIMEOUT_MS = 120_000;

export interface RunSpec {
  agent: AgentKind;
  cls: FailureClass;
  profile: Profile;
  run: number;
  /** The fault comes a uniformly random 0.5 s–faultWindowMs after the cluster is ready. */
  faultWindowMs: number;
  workRoot: string;
}

export interface RunResult {
  agent: AgentKind;
  cls: FailureClass;
  profile: Profile['name'];
  run: number;
  ok: boolean;
  failure?: string;
  bootstrapS: number | null;
  delayBeforeFaultS: number | null;
  oldPrimary: string | null;
  /** The leader key's holder at the end, where acknowledged rows are looked for. */
  finalLeader: string | null;
  /** Nodes the writer got acknowledgements from after the fault, in order. */
  writerNodesAfterFault: string[];
  // Times relative to the fault (s).
  leaderKeyGoneS: number | null;
  newLeaderKeyS: number | null;
  /** The probe's first sight of a writable node other than the old primary. */
  newWritableS: number | null;
  /** The probe's last sight of the old primary writable. */
  oldLastWritableS: number | null;
  /** freeze-kill: the frozen processes killed; agent-kill: the agent started again. */
  actionS: number | null;
  /** Last writer ack on the old primary before the first on another node, and that first one. */
  lastOldAckS: number | null;
  firstNewAckS: number | null;
  /** firstNewAck − lastOldAck: the write outage the client saw (s). */
  outageS: number | null;
  /** Time with two nodes seen writable at once (probe intervals, s), and when it began. */
  twoWritableS: number | null;
  twoWritableFromS: number | null;
  /** Rows (writer + probe) acknowledged by the old primary after another node was writable. */
  oldAcksWhileNewWritable: number | null;
  writableAfterFault: Record<string, { firstS: number; lastS: number; samples: number }>;
  ackedRows: number;
  ackedByNode: Record<string, number>;
  lostAckedRows: number | null;
  lostByNode: Record<string, number>;
  probeAcks: number;
  lostProbeAcks: number | null;
  lostProbeByNode: Record<string, number>;
  writerErrors: number;
  firstWriterErrors: string[];
  leaderChanges: Array<{ atS: number; value: string | null }>;
  faultNotes: Record<string, unknown>;
  logDir: string;
  logExcerpt?: Record<string, string[]>;
}

const LOG_PATTERN =
  /leader|lock|promot|lease|fail|error|fatal|timeline|rewind|demot|acquir|expir|race|healthiest|DCS|etcd/i;

function logExcerpt(cluster: LocalCluster, maxLines = 40): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const n of cluster.nodes) {
    try {
      out[n.name] = readFileSync(n.logFile, 'utf8')
        .split('\n')
        .filter((l) => LOG_PATTERN.test(l))
        .slice(-maxLines);
    } catch {
      out[n.name] = [];
    }
  }
  return out;
}

const primaryOf = (nodes: ClusterNode[]) =>
  nodes.find((n) => n.status?.role === 'master' && n.status.state === 'running') ?? null;

function emptyResult(spec: RunSpec, logDir: string): RunResult {
  return {
    agent: spec.agent,
    cls: spec.cls,
    profile: spec.profile.name,
    run: spec.run,
    ok: false,
    bootstrapS: null,
    delayBeforeFaultS: null,
    oldPrimary: null,
    finalLeader: null,
    writerNodesAfterFault: [],
    leaderKeyGoneS: null,
    newLeaderKeyS: null,
    newWritableS: null,
    oldLastWritableS: null,
    actionS: null,
    lastOldAckS: null,
    firstNewAckS: null,
    outageS: null,
    twoWritableS: null,
    twoWritableFromS: null,
    oldAcksWhileNewWritable: null,
    writableAfterFault: {},
    ackedRows: 0,
    ackedByNode: {},
    lostAckedRows: null,
    lostByNode: {},
    probeAcks: 0,
    lostProbeAcks: null,
    lostProbeByNode: {},
    writerErrors: 0,
    firstWriterErrors: [],
    leaderChanges: [],
    faultNotes: {},
    logDir,
  };
}

/** The cluster of the run in progress, for Ctrl-C. */
export let activeCluster: { stop(): Promise<void> } | null = null;

export async function oneRun(spec: RunSpec): Promise<RunResult> {
  const dir = mkdtempSync(join(spec.workRoot, `${spec.cls}-${spec.agent}-${spec.profile.name}-${spec.run}-`));
  const result = emptyResult(spec, dir);
  const ttl = spec.profile.dcs.ttl;
  const proxies = new Map<string, CuttableProxy>();
  let cluster: LocalCluster | null = null;
  const target = () => {
    const u = new URL(cluster!.etcdEndpoint);
    return { host: u.hostname, port: Number(u.port) };
  };
  for (const name of ['node1', 'node2', 'node3']) proxies.set(name, await startProxy(target));
  cluster = new LocalCluster({
    dir,
    nodes: 3,
    scope: SCOPE,
    dcs: spec.profile.dcs,
    agentArgv: agentArgv(spec.agent),
    editConfig: etcdThroughProxy((n) => proxies.get(n.name)!.port, spec.agent),
  });
  const c = cluster;
  activeCluster = {
    stop: async () => {
      for (const p of proxies.values()) p.restore();
      await c.stop();
    },
  };
  let fault: ReturnType<typeof makeFault> | null = null;
  const writer = { current: null as ReturnType<typeof startWriter> | null };
  const poller = { current: null as ReturnType<typeof pollLeaderKey> | null };
  const prober = { current: null as ReturnType<typeof probeWritable> | null };
  try {
    await c.init();
    result.bootstrapS = secs(await bootstrapCluster(c));
    const old = primaryOf(c.nodes)!;
    result.oldPrimary = old.name;
    await sqlOn(old.pgPort, `CREATE TABLE ${WRITES} (id bigint PRIMARY KEY, at timestamptz DEFAULT now())`);
    await sqlOn(
      old.pgPort,
      `CREATE TABLE ${PROBES} (id bigint PRIMARY KEY, node text, at timestamptz DEFAULT now())`,
    );
    poller.current = pollLeaderKey(c.etcdEndpoint, SCOPE);
    writer.current = startWriter(
      c.nodes.map((n) => n.pgPort),
      WRITES,
    );
    prober.current = probeWritable(c.nodes, { table: PROBES });
    const delayMs = Math.max(500, Math.random() * spec.faultWindowMs);
    result.delayBeforeFaultS = secs(delayMs);
    await sleep(delayMs);

    fault = makeFault(spec.cls, { cluster: c, old, proxy: proxies.get(old.name)! });
    const faultAt = now();
    await fault.inject();

    // Another node holds the leader key and the probe has seen it writable (bounded).
    const deadline = faultAt + (3 * ttl + 60) * 1000;
    const takenOver = () => {
      const holder = poller.current!.changes.at(-1)?.value;
      const seen = holder && holder !== old.name ? prober.current!.seen.get(holder) : undefined;
      return seen !== undefined && seen.last > faultAt;
    };
    while (!takenOver() && now() < deadline) await sleep(100);
    if (!takenOver()) throw new Error(`no other node writable with the leader key within 3·ttl + 60 s`);
    await sleep(HOLD_AFTER_TAKEOVER_MS);
    const actedAt = await fault.afterTakeover();
    const recovered = await waitForNewPrimaryWrites(writer.current, old.pgPort, RECOVERY_TIMEOUT_MS);
    await writer.current.stop();
    await prober.current.stop();
    await poller.current.stop();
    if (!recovered) throw new Error('the writer did not settle on another node within 120 s');
    const rel = (t: number | null | undefined) => (t === null || t === undefined ? null : secs(t - faultAt));
    result.actionS = rel(actedAt);
    summarize(result, c, old, faultAt, writer.current, poller.current, prober.current, rel);

    // Every acknowledged row (writer and probe) must be on the node holding the leader key.
    const finalLeader = (await readLeaderKey(c.etcdEndpoint, SCOPE)) ?? null;
    result.finalLeader = finalLeader;
    if (!finalLeader) throw new Error('no leader key at the end');
    const port = c.node(finalLeader).pgPort;
    const nameOf = (p: number) => c.nodes.find((n) => n.pgPort === p)?.name ?? String(p);
    const writes = await lostRows(port, WRITES, writer.current.acks, (a) => nameOf(a.port));
    result.lostAckedRows = writes.lost;
    result.ackedByNode = writes.ackedByNode;
    result.lostByNode = writes.lostByNode;
    const probes = await lostRows(port, PROBES, prober.current.acks, (a) => a.node);
    result.probeAcks = prober.current.acks.length;
    result.lostProbeAcks = probes.lost;
    result.lostProbeByNode = probes.lostByNode;
    result.ok = true;
  } catch (err) {
    result.failure = (err as Error).message;
  } finally {
    await writer.current?.stop().catch(() => {});
    await prober.current?.stop().catch(() => {});
    await poller.current?.stop().catch(() => {});
    await fault?.cleanup().catch(() => {});
    result.faultNotes = fault?.notes ?? {};
    for (const p of proxies.values()) p.restore();
    const anomaly =
      !result.ok ||
      (result.lostAckedRows ?? 0) > 0 ||
      (result.lostProbeAcks ?? 0) > 0 ||
      (result.twoWritableS ?? 0) > 0;
    if (anomaly) result.logExcerpt = logExcerpt(c);
    await c.stop().catch((err) => console.error(`stop: ${(err as Error).message}`));
    for (const p of proxies.values()) await p.close();
    activeCluster = null;
    // Keep the node logs; the data directories and etcd's (62 MB of preallocated WAL) are large.
    for (const n of c.nodes) rmSync(dirname(n.dataDir), { recursive: true, force: true });
    rmSync(join(dir, 'etcd'), { recursive: true, force: true });
  }
  return result;
}

function summarize(
  result: RunResult,
  c: LocalCluster,
  old: ClusterNode,
  faultAt: number,
  writer: ReturnType<typeof startWriter>,
  poller: ReturnType<typeof pollLeaderKey>,
  prober: ReturnType<typeof probeWritable>,
  rel: (t: number | null | undefined) => number | null,
): void {
  const nameOf = (p: number) => c.nodes.find((n) => n.pgPort === p)?.name ?? String(p);
  const acks = writer.acks;
  result.ackedRows = acks.length;
  result.writerErrors = writer.errors.length;
  result.firstWriterErrors = writer.errors.slice(0, 3).map((e) => `${e.port}: ${e.message}`);
  result.writerNodesAfterFault = [
    ...new Set(acks.filter((a) => a.at > faultAt && a.port !== old.pgPort).map((a) => nameOf(a.port))),
  ];
  const firstNew = acks.find((a) => a.port !== old.pgPort);
  const lastOld = acks.filter((a) => a.port === old.pgPort && (!firstNew || a.at < firstNew.at)).at(-1);
  result.firstNewAckS = rel(firstNew?.at);
  result.lastOldAckS = rel(lastOld?.at);
  if (firstNew && lastOld) result.outageS = secs(firstNew.at - lastOld.at);

  result.leaderChanges = poller.changes.map((ch) => ({ atS: secs(ch.at - faultAt)!, value: ch.value }));
  const after = poller.changes.filter((ch) => ch.at >= faultAt);
  result.leaderKeyGoneS = rel(after.find((ch) => ch.value !== old.name)?.at);
  result.newLeaderKeyS = rel(after.find((ch) => ch.value !== null && ch.value !== old.name)?.at);

  const runs = new Map<string, ReturnType<typeof runsOf>>();
  let newWritable: number | null = null;
  for (const [name, seen] of prober.seen) {
    const times = seen.times.filter((t) => t >= faultAt);
    if (times.length === 0) continue;
    result.writableAfterFault[name] = {
      firstS: rel(times[0])!,
      lastS: rel(times.at(-1))!,
      samples: times.length,
    };
    runs.set(name, runsOf(times, 3 * WRITABLE_PROBE_MS));
    if (name !== old.name && (newWritable === null || times[0]! < newWritable)) newWritable = times[0]!;
  }
  result.newWritableS = rel(newWritable);
  result.oldLastWritableS = rel(prober.seen.get(old.name)?.last);
  const overlap = overlapOfNodes(runs);
  result.twoWritableS = secs(overlap.totalMs);
  result.twoWritableFromS = rel(overlap.firstAt);
  if (newWritable !== null) {
    const t = newWritable;
    result.oldAcksWhileNewWritable =
      acks.filter((a) => a.port === old.pgPort && a.at >= t).length +
      prober.acks.filter((a) => a.node === old.name && a.at >= t).length;
  }
}

/** Acknowledged rows of `table` missing on the final leader (at `port`), in all and per node. */
async function lostRows<A extends { id: number }>(
  port: number,
  table: string,
  acks: readonly A[],
  nodeOf: (a: A) => string,
): Promise<{ lost: number; ackedByNode: Record<string, number>; lostByNode: Record<string, number> }> {
  const missing = new Set(
    await missingIds(
      port,
      table,
      acks.map((a) => a.id),
    ),
  );
  const ackedByNode: Record<string, number> = {};
  const lostByNode: Record<string, number> = {};
  for (const a of acks) {
    const node = nodeOf(a);
    ackedByNode[node] = (ackedByNode[node] ?? 0) + 1;
    if (missing.has(a.id)) lostByNode[node] = (lostByNode[node] ?? 0) + 1;
  }
  return { lost: missing.size, ackedByNode, lostByNode };
}
