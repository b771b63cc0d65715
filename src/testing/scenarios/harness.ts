/**
 * What every targeted scenario stands on: a cluster made for it (three healthy nodes, unless it
 * starts from nothing), the check that throws with what the cluster looked like, and readings
 * of the nodes' machines (node state, election state, message) that scenarios wait for. Every
 * scenario ends by checking that no data directory went without the configuration or a
 * request, whatever else it is about.
 */
import type { InspectionEvent } from 'xstate';
import {
  createSimulatedCluster,
  type SimulatedCluster,
  type SimulatedClusterOptions,
} from '../cluster/index.ts';
import { noUnaskedDataRemoval } from '../invariants/index.ts';

export interface Scenario {
  name: string;
  /** Plays the scenario; throws (with what it saw) when the outcome is not the expected one. */
  run(inspect?: (ev: InspectionEvent) => void): Promise<void>;
}

export function check(ok: boolean, what: string, c: SimulatedCluster): void {
  if (ok) return;
  throw new Error(
    `${what}\n${c
      .summary()
      .map((s) => JSON.stringify(s))
      .join('\n')}\n${c.logs.slice(-30).join('\n')}`,
  );
}

export async function withCluster(
  opts: SimulatedClusterOptions,
  body: (c: SimulatedCluster) => Promise<void>,
): Promise<void> {
  const c = createSimulatedCluster({ seed: 11, dcs: { ttl: 30, loop_wait: 10, retry_timeout: 10 }, ...opts });
  try {
    let failed: unknown = null;
    try {
      await body(c);
    } catch (err) {
      failed = err;
    }
    // Whatever a scenario is about, no data directory went without the configuration or a
    // request; a wipe is what matters first when the scenario broke too.
    const removed = noUnaskedDataRemoval.check({ cluster: c, step: 0, synchronousMode: false });
    if (removed !== null) {
      const also = failed === null ? '' : ` (and: ${(failed as Error).message?.split('\n')[0]})`;
      check(false, `${noUnaskedDataRemoval.name}: ${removed}${also}`, c);
    }
    if (failed !== null) throw failed;
  } finally {
    await c.stop();
  }
}

export const healthy = (c: SimulatedCluster, replicas: number) => () =>
  c.leader() !== null && c.primaries().length === 1 && c.streamingReplicas().length === replicas;

/** Three nodes, started, with a leader and two streaming replicas before `body` runs. */
export function onHealthyCluster(
  inspect: ((ev: InspectionEvent) => void) | undefined,
  body: (c: SimulatedCluster) => Promise<void>,
  opts: SimulatedClusterOptions = {},
): Promise<void> {
  return withCluster({ nodes: 3, inspect, ...opts }, async (c) => {
    await c.start();
    await c.until(healthy(c, 2), 30_000);
    await body(c);
  });
}

/** Maintenance mode on or off, as an operator does it (PATCH /config through node1). */
export async function setPause(c: SimulatedCluster, pause: boolean): Promise<void> {
  const r = await c.rest('node1', 'PATCH', '/config', { pause });
  check(r.status === 200, `${pause ? 'pause' : 'resume'} answered ${r.status} ${r.body}`, c);
}

/**
 * The node's agent says its PostgreSQL streams (its last sample, what GET /patroni answers and a
 * leader's probe reads) — up to a second after the world's own reading, as on real processes.
 */
export const reportsStreaming = (c: SimulatedCluster, name: string): boolean =>
  c.node(name).report()?.pg?.replicationState === 'streaming';

/** A node that does not hold /leader. */
export const aReplica = (c: SimulatedCluster) => c.nodes.find((n) => n.name !== c.leader())!;

/** The node machine's state under active.running (or under active), '' otherwise. */
export function nodeState(c: SimulatedCluster, name: string): string {
  const v = c.node(name).agent?.actor.getSnapshot().value as unknown;
  const active = (v as { active?: unknown } | undefined)?.active;
  if (typeof active === 'string') return active;
  const running = (active as { running?: unknown } | undefined)?.running;
  if (typeof running === 'string') return running;
  // A compound state (promoting, switchingOver, restarting, …) by its own name.
  return running && typeof running === 'object' ? (Object.keys(running)[0] ?? '') : '';
}

export const nodeMessage = (c: SimulatedCluster, name: string): string =>
  c.node(name).agent?.actor.getSnapshot().context.message ?? '';

/** The election machine's state of a node, as text (`racing.acquiring`), '' without an agent. */
export function electionState(c: SimulatedCluster, name: string): string {
  const election = c.node(name).agent?.actor.getSnapshot().children['election'];
  const value = (election?.getSnapshot() as { value?: unknown } | undefined)?.value;
  const text = (v: unknown): string =>
    typeof v === 'string'
      ? v
      : Object.entries((v ?? {}) as Record<string, unknown>)
          .map(([k, x]) => `${k}.${text(x)}`)
          .join(',');
  return text(value);
}
