/**
 * Each node's role as its REST API reports it, polled a few times a second for the whole run and
 * kept only when it changes: the leader lanes of the picture and the "who led when" of the report.
 */
import type { LocalCluster } from '../../../src/local/cluster.ts';
import { sleep } from '../time.ts';
import type { RoleSample } from './types.ts';

export const ROLE_POLL_MS = 250;

function roleOf(doc: { role?: unknown; state?: unknown } | null): RoleSample['role'] {
  if (!doc) return 'down';
  if ((doc.role === 'master' || doc.role === 'primary') && doc.state === 'running') return 'leader';
  if (doc.role === 'replica' && doc.state === 'running') return 'replica';
  return 'other';
}

export interface RoleWatch {
  samples: RoleSample[];
  /** The node whose last sample says leader, when exactly one does. */
  leader(): string | null;
  stop(): Promise<void>;
}

export function watchRoles(cluster: LocalCluster, clock: () => number): RoleWatch {
  const samples: RoleSample[] = [];
  const last = new Map<string, RoleSample>();
  let stopping = false;

  const pollOne = async (name: string) => {
    const node = cluster.node(name);
    const doc = cluster.isRunning(name) ? await cluster.fetchStatus(node) : null;
    const s: RoleSample = { at: Math.round(clock()), node: name, role: roleOf(doc) };
    if (typeof doc?.timeline === 'number') s.timeline = doc.timeline;
    const prev = last.get(name);
    if (!prev || prev.role !== s.role || prev.timeline !== s.timeline) {
      samples.push(s);
      last.set(name, s);
    }
  };

  // One loop per node: a node that does not answer (1.5 s timeout) must not slow the others.
  const loops = cluster.nodes.map(async (n) => {
    while (!stopping) {
      const started = clock();
      await pollOne(n.name);
      await sleep(Math.max(0, ROLE_POLL_MS - (clock() - started)));
    }
  });

  return {
    samples,
    leader: () => {
      const leaders = [...last.values()].filter((s) => s.role === 'leader');
      return leaders.length === 1 ? leaders[0]!.node : null;
    },
    stop: async () => {
      stopping = true;
      await Promise.all(loops);
    },
  };
}
