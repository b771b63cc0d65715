/**
 * The chaos harness's faults: what each one does to a real cluster on the test network, and how
 * it is undone. A plan (drawn from a seed, or given) says which fault, for how long, and which
 * target; the target is resolved when the fault begins (the leader of that moment).
 *
 * Partitions drop packets at the receiver (TestNetwork.partition): calls hang and time out as
 * across a cut cable. A refusing leader answers every connection to PostgreSQL and REST with a
 * TCP reset (nftables REJECT) while its agent keeps its etcd session.
 */

import type { LocalCluster } from '../../../src/local/cluster.ts';
import { REST_AUTH } from '../../../src/local/cluster.ts';
import { seededRandom } from '../../../src/testing/random.ts';
import type { TestNetwork } from '../../../test/helpers/netns.ts';
import { freezeNode, killFrozen } from '../faults.ts';
import { alive } from '../procs.ts';
import type { EtcdCluster } from './etcd-cluster.ts';
import type { FaultKind, FaultRecord } from './types.ts';

export const FAULT_KINDS: FaultKind[] = [
  'kill-agent',
  'kill-postmaster',
  'kill-node',
  'freeze-node',
  'partition-leader-etcd',
  'partition-leader-peers',
  'isolate-leader',
  'isolate-replica',
  'kill-etcd-member',
  'etcd-majority-lost',
  'refusing-leader',
  'switchover',
  'restart',
  'patch-config',
];

/** Operator actions: nothing to hold or heal, the cluster is asked to do something. */
const OPERATOR: ReadonlySet<FaultKind> = new Set(['switchover', 'restart', 'patch-config']);

export interface PlannedFault {
  kind: FaultKind;
  holdMs: number;
  /** In [0, 1): chooses among the targets and variants when the fault begins. */
  pick: number;
}

/**
 * `count` faults drawn from `seed`, uniformly over `kinds`; each held 1 s to `maxHoldMs` (an
 * operator action is not held). The same seed and arguments give the same plan.
 */
export function drawPlan(
  seed: number,
  count: number,
  kinds: FaultKind[],
  maxHoldMs: number,
  minHoldMs = 1000,
): PlannedFault[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => {
    const kind = kinds[Math.floor(random() * kinds.length)]!;
    const holdMs = OPERATOR.has(kind) ? 0 : minHoldMs + Math.floor(random() * (maxHoldMs - minHoldMs));
    return { kind, holdMs, pick: Math.floor(random() * 1e6) / 1e6 };
  });
}

export interface ChaosContext {
  cluster: LocalCluster;
  net: TestNetwork;
  etcd: EtcdCluster;
  /** The ttl the run started with (PATCH /config moves it by a few seconds and back). */
  ttl: number;
  synchronous: boolean;
}

/** A fault in progress: `heal()` undoes it (idempotent). */
export interface ActiveFault {
  target: string | null;
  targetRole: FaultRecord['targetRole'];
  notes: Record<string, unknown>;
  heal(): Promise<void>;
}

const nothing = async () => {};

/** `pick` → one element of `xs`. */
function choose<T>(xs: T[], pick: number): T {
  return xs[Math.min(xs.length - 1, Math.floor(pick * xs.length))]!;
}

/** The second-level choice from the same pick, independent enough of the first. */
const subPick = (pick: number) => (pick * 7919) % 1;

async function rest(
  url: string,
  method: string,
  body?: unknown,
): Promise<{ status: number | null; text: string }> {
  try {
    const res = await fetch(url, {
      method,
      headers: {
        authorization: `Basic ${Buffer.from(`${REST_AUTH.username}:${REST_AUTH.password}`).toString('base64')}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(30_000),
    });
    return { status: res.status, text: (await res.text()).slice(0, 200) };
  } catch (err) {
    return { status: null, text: (err as Error).message };
  }
}

/** Members GET /cluster names sync_standby (none when it does not answer). */
async function syncStandbys(apiUrl: string): Promise<string[]> {
  try {
    const res = await fetch(`${apiUrl}/cluster`, { signal: AbortSignal.timeout(3000) });
    const doc = (await res.json()) as { members?: Array<{ name: string; role: string }> };
    return (doc.members ?? []).filter((m) => m.role === 'sync_standby').map((m) => m.name);
  } catch {
    return [];
  }
}

/** Starts the agent again if it is not running (a supervisor would). */
function restartAgent(cluster: LocalCluster, name: string): void {
  if (!cluster.isRunning(name)) cluster.startNode(name);
}

/**
 * Begins fault `f` with `leader` the leader of this moment (null: none known, faults aimed at the
 * leader then hit a random node) and `replicas` the other nodes.
 */
export async function inject(
  ctx: ChaosContext,
  f: PlannedFault,
  leader: string | null,
): Promise<ActiveFault> {
  const { cluster, net, etcd } = ctx;
  const names = cluster.nodes.map((n) => n.name);
  const others = (name: string) => names.filter((n) => n !== name);
  const theLeader = leader ?? choose(names, f.pick);
  const replicas = others(theLeader);
  const index = (name: string) => cluster.node(name).index;
  // Process faults hit the leader two times in three, a replica otherwise.
  const processTarget = (): { name: string; role: 'leader' | 'replica' } =>
    f.pick < 2 / 3
      ? { name: theLeader, role: 'leader' }
      : { name: choose(replicas, subPick(f.pick)), role: 'replica' };
  const notes: Record<string, unknown> = {};

  switch (f.kind) {
    case 'kill-agent': {
      const t = processTarget();
      await cluster.killAgent(t.name);
      return { target: t.name, targetRole: t.role, notes, heal: async () => restartAgent(cluster, t.name) };
    }
    case 'kill-postmaster': {
      const t = processTarget();
      const pid = cluster.postmasterPid(t.name);
      notes['postmaster'] = pid;
      if (pid) process.kill(pid, 'SIGKILL');
      return { target: t.name, targetRole: t.role, notes, heal: nothing };
    }
    case 'kill-node': {
      const t = processTarget();
      await cluster.killNode(t.name);
      return { target: t.name, targetRole: t.role, notes, heal: async () => restartAgent(cluster, t.name) };
    }
    case 'freeze-node': {
      const t = processTarget();
      const frozen = freezeNode(cluster, t.name);
      // Most frozen hosts come back (a VM resumed); one in four is killed while stopped.
      const ending = subPick(f.pick) < 0.75 ? 'SIGCONT' : 'kill';
      Object.assign(notes, { frozenPids: frozen.length, ending });
      let done = false;
      return {
        target: t.name,
        targetRole: t.role,
        notes,
        heal: async () => {
          if (done) return;
          done = true;
          if (ending === 'kill') {
            await killFrozen(frozen);
            await cluster.killNode(t.name);
            restartAgent(cluster, t.name);
          } else {
            for (const pid of frozen.filter(alive)) process.kill(pid, 'SIGCONT');
          }
        },
      };
    }
    case 'partition-leader-etcd': {
      const members = Array.from({ length: etcd.size }, (_, m) => net.etcdEnd(m));
      net.partition([net.nodeEnd(index(theLeader))], members);
      return { target: theLeader, targetRole: 'leader', notes, heal: async () => net.healAll() };
    }
    case 'partition-leader-peers': {
      net.partition(
        [net.nodeEnd(index(theLeader))],
        replicas.map((r) => net.nodeEnd(index(r))),
      );
      return { target: theLeader, targetRole: 'leader', notes, heal: async () => net.healAll() };
    }
    case 'isolate-leader':
    case 'isolate-replica': {
      const target = f.kind === 'isolate-leader' ? theLeader : choose(replicas, f.pick);
      net.setLink(index(target), false);
      return {
        target,
        targetRole: f.kind === 'isolate-leader' ? 'leader' : 'replica',
        notes,
        heal: async () => net.healAll(),
      };
    }
    case 'refusing-leader': {
      const node = cluster.node(theLeader);
      net.refuse(node.index, [node.pgPort, node.apiPort]);
      return { target: theLeader, targetRole: 'leader', notes, heal: async () => net.healAll() };
    }
    case 'kill-etcd-member': {
      const m = Math.min(etcd.size - 1, Math.floor(f.pick * etcd.size));
      await etcd.kill(m);
      return { target: etcd.memberName(m), targetRole: 'etcd', notes, heal: () => etcd.restart(m) };
    }
    case 'etcd-majority-lost': {
      const keep = Math.min(etcd.size - 1, Math.floor(f.pick * etcd.size));
      const lost = Array.from({ length: etcd.size }, (_, m) => m).filter((m) => m !== keep);
      for (const m of lost) await etcd.kill(m);
      notes['killed'] = lost.map((m) => etcd.memberName(m));
      return {
        target: null,
        targetRole: 'etcd',
        notes,
        heal: async () => {
          for (const m of lost) await etcd.restart(m);
        },
      };
    }
    case 'switchover': {
      // Half name a candidate, half let the leader choose (patronictl allows both). In
      // synchronous mode only a synchronous standby may be named, as patronictl would offer.
      const eligible = ctx.synchronous ? await syncStandbys(cluster.node(theLeader).apiUrl) : replicas;
      const candidate = f.pick < 0.5 && eligible.length > 0 ? choose(eligible, subPick(f.pick)) : undefined;
      const body = { leader: theLeader, ...(candidate ? { candidate } : {}) };
      const res = await rest(`${cluster.node(theLeader).apiUrl}/switchover`, 'POST', body);
      Object.assign(notes, { body, status: res.status, answer: res.text });
      return { target: theLeader, targetRole: 'leader', notes, heal: nothing };
    }
    case 'restart': {
      const t = processTarget();
      const res = await rest(`${cluster.node(t.name).apiUrl}/restart`, 'POST', {});
      Object.assign(notes, { status: res.status, answer: res.text });
      return { target: t.name, targetRole: t.role, notes, heal: nothing };
    }
    case 'patch-config': {
      const variant = Math.floor(subPick(f.pick) * 3);
      const body =
        variant === 0
          ? { ttl: f.pick < 0.5 ? ctx.ttl : ctx.ttl + 5 }
          : variant === 1
            ? { postgresql: { parameters: { work_mem: `${4 + Math.floor(f.pick * 8)}MB` } } }
            : { maximum_lag_on_failover: 1048576 + Math.floor(f.pick * 1024) * 1024 };
      const res = await rest(`${cluster.node(theLeader).apiUrl}/config`, 'PATCH', body);
      Object.assign(notes, { body, status: res.status });
      return { target: null, targetRole: 'cluster', notes, heal: nothing };
    }
  }
}
