/**
 * The failure classes of the failover benchmark, each done to the leader's node:
 *
 * - node-kill: kill -9 of the agent and the postmaster (the host is up, its ports refuse).
 * - freeze-kill: SIGSTOP of the agent and of every PostgreSQL process (no answer at all, as a
 *   dead host or a hung VM); they stay stopped until another node has been writable for a while
 *   (past the lease), then kill -9 (a stopped process dies of SIGKILL without running again).
 * - etcd-cut: the agent's etcd proxy is cut (see proxy.ts); agent and PostgreSQL stay up.
 * - agent-kill: kill -9 of the agent alone; PostgreSQL keeps running as a primary. Once another
 *   node has been promoted and is writable, the agent is started again, as a supervisor or an
 *   operator would, and the run watches what it does with the old primary.
 */
import type { ClusterNode, LocalCluster } from '../../src/local/cluster.ts';
import { alive, processTree, signalAll } from './procs.ts';
import type { CuttableProxy } from './proxy.ts';
import { now, sleep } from './time.ts';

export type FailureClass = 'node-kill' | 'freeze-kill' | 'etcd-cut' | 'agent-kill';
export const CLASSES: FailureClass[] = ['node-kill', 'freeze-kill', 'etcd-cut', 'agent-kill'];

export interface FaultContext {
  cluster: LocalCluster;
  old: ClusterNode;
  proxy: CuttableProxy;
}

export interface Fault {
  /** Does it; returns once it is done. */
  inject(): Promise<void>;
  /** Called once another node has taken over and is writable; returns when it acted (or null). */
  afterTakeover(): Promise<number | null>;
  /** Undoes whatever is left (always called, also after a failure). */
  cleanup(): Promise<void>;
  /** What the fault did, for the raw results. */
  notes: Record<string, unknown>;
}

/** SIGSTOP of the postmaster first (no new backends), then its children, then the agent's tree. */
export function freezeNode(cluster: LocalCluster, name: string): number[] {
  const frozen = new Set<number>();
  const stop = (pids: number[]) => {
    for (const pid of signalAll(
      pids.filter((p) => !frozen.has(p)),
      'SIGSTOP',
    ))
      frozen.add(pid);
  };
  const postmaster = cluster.postmasterPid(name);
  const agent = cluster.agentPid(name);
  for (let pass = 0; pass < 2; pass++) {
    // A second pass catches a child forked between reading /proc and stopping its parent.
    if (postmaster) stop(processTree(postmaster));
    if (agent) stop(processTree(agent));
  }
  return [...frozen];
}

/** SIGKILL of every frozen pid (a stopped process dies without running again); waits up to 5 s. */
export async function killFrozen(pids: number[]): Promise<void> {
  signalAll(pids, 'SIGKILL');
  signalAll(pids, 'SIGCONT'); // in case any escaped the SIGKILL: let it run to its death
  const deadline = now() + 5000;
  while (pids.some(alive) && now() < deadline) await sleep(50);
}

export function makeFault(cls: FailureClass, ctx: FaultContext): Fault {
  const { cluster, old, proxy } = ctx;
  const notes: Record<string, unknown> = {};
  switch (cls) {
    case 'node-kill':
      return {
        notes,
        inject: () => cluster.killNode(old.name),
        afterTakeover: async () => null,
        cleanup: async () => {},
      };
    case 'freeze-kill': {
      let frozen: number[] = [];
      return {
        notes,
        inject: async () => {
          frozen = freezeNode(cluster, old.name);
          notes['frozenPids'] = frozen.length;
        },
        afterTakeover: async () => {
          const at = now();
          await killFrozen(frozen);
          await cluster.killNode(old.name); // reaps the agent and waits for the port to free
          return at;
        },
        cleanup: async () => {
          if (frozen.some(alive)) await killFrozen(frozen);
        },
      };
    }
    case 'etcd-cut':
      return {
        notes,
        inject: async () => proxy.cut(),
        afterTakeover: async () => null,
        cleanup: async () => proxy.restore(),
      };
    case 'agent-kill':
      return {
        notes,
        inject: () => cluster.killAgent(old.name),
        afterTakeover: async () => {
          const at = now();
          cluster.startNode(old.name);
          return at;
        },
        cleanup: async () => {},
      };
  }
}
