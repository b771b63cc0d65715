/**
 * The simulator's "no data directory removed unless configured or asked" invariant, shown able to
 * fail: a node machine told to rebuild its replica with nobody asking over REST (a planted
 * REINITIALIZE event) breaks it; the same rebuild asked by POST /reinitialize, or on a node whose
 * configuration allows removals, does not.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createSimulatedCluster, type SimulatedCluster } from '../../src/testing/index.ts';
import { noUnaskedDataRemoval, tickInvariants } from '../../src/testing/invariants/index.ts';

const clusters: SimulatedCluster[] = [];
afterEach(async () => {
  for (const c of clusters.splice(0)) await c.stop();
});

async function healthyCluster(localPostgresql?: Record<string, unknown>): Promise<SimulatedCluster> {
  const c = createSimulatedCluster({
    nodes: 3,
    seed: 5,
    dcs: { ttl: 30, loop_wait: 10, retry_timeout: 10 },
    ...(localPostgresql ? { localPostgresql } : {}),
  });
  clusters.push(c);
  await c.start();
  await c.until(() => c.primaries().length === 1 && c.streamingReplicas().length === 2, 30_000);
  return c;
}

const check = (c: SimulatedCluster) =>
  noUnaskedDataRemoval.check({ cluster: c, step: 0, synchronousMode: false });
const replicaOf = (c: SimulatedCluster) => c.nodes.find((n) => n.name !== c.leader())!;

describe('invariant no-unasked-data-removal', () => {
  it('is checked on every tick of seeded runs', () => {
    expect(tickInvariants).toContain(noUnaskedDataRemoval);
  });

  it('fails when an agent wipes a data directory nobody asked it to', async () => {
    const c = await healthyCluster();
    const r = replicaOf(c);
    r.agent!.actor.send({ type: 'REINITIALIZE' });
    await c.until(() => c.dataRemovals.length === 1, 10_000);
    expect(check(c)).toMatch(
      new RegExp(
        `^${r.name}'s data directory \\(timeline 1, lsn \\d+\\) was removed at [\\d.]+ s with neither remove_data_directory_on_rewind_failure nor remove_data_directory_on_diverged_timelines set and no POST /reinitialize$`,
      ),
    );
  });

  it('holds for a POST /reinitialize, once per request', async () => {
    const c = await healthyCluster();
    const r = replicaOf(c);
    const res = await c.rest(r.name, 'POST', '/reinitialize', {});
    expect(res.status).toBe(200);
    await c.until(() => c.streamingReplicas().length === 2 && c.dataRemovals.length === 1, 60_000);
    expect(check(c)).toBeNull();
    // The request was used up: a second wipe without one is reported.
    r.agent!.actor.send({ type: 'REINITIALIZE' });
    await c.until(() => c.dataRemovals.length === 2, 10_000);
    expect(check(c)).toMatch(/was removed at .* and no POST \/reinitialize$/);
  });

  it('holds on a node whose configuration allows removing its data directory', async () => {
    const c = await healthyCluster({ remove_data_directory_on_rewind_failure: true });
    replicaOf(c).agent!.actor.send({ type: 'REINITIALIZE' });
    await c.until(() => c.dataRemovals.length === 1, 10_000);
    expect(check(c)).toBeNull();
  });

  it('does not count a data directory removed by hand while the agent is down', async () => {
    const c = await healthyCluster();
    const r = replicaOf(c);
    await r.kill();
    await c.waitFor(r.postgres.removeDataDir());
    expect(c.dataRemovals).toEqual([]);
    expect(check(c)).toBeNull();
  });
});
