/**
 * Three nodes that may all lead. The leader node dies (kill -9 of agent and postmaster): both
 * survivors see their streams break at the same moment and race. Exactly one may end up
 * writable, the leader key may change only once, and at no sample may two nodes be writable.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type ClusterNode, LocalCluster } from '../../src/local/cluster.ts';
import { dumpLogs, etcdValue, inRecovery, sleep } from '../helpers/cluster-tools.ts';

vi.setConfig({ testTimeout: 120_000 });

let cluster: LocalCluster;
let dir: string;
let failed = false;

const writable = async (node: ClusterNode) => (await inRecovery(node, 1000)) === false;
const leaderKey = () => etcdValue(cluster, 'race', 'leader');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pgwarden-race-'));
  cluster = new LocalCluster({
    dir,
    nodes: 3,
    scope: 'race',
    dcs: { ttl: 30, loop_wait: 10, retry_timeout: 10 },
  });
  await cluster.init();
  await cluster.startAll();
});

afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') failed = true;
});

afterAll(async () => {
  if (failed) dumpLogs(cluster, 30);
  await cluster?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('two replicas racing after the leader node died', () => {
  it('one new leader, one change of the leader key, never two writable nodes', async () => {
    expect(await cluster.waitUntilReady({ timeoutMs: 60_000 })).toBe(true);
    const old = cluster.nodes.find((n) => n.status?.role === 'master')!;
    const survivors = cluster.nodes.filter((n) => n !== old);
    await cluster.killNode(old.name);

    const keys: Array<string | null> = [];
    const deadline = Date.now() + 40_000;
    let settledAt: number | null = null;
    while (Date.now() < deadline) {
      const w = await Promise.all(survivors.map(writable));
      expect(w.filter(Boolean).length).toBeLessThanOrEqual(1);
      const k = await leaderKey();
      if (keys[keys.length - 1] !== k) keys.push(k);
      if (w.some(Boolean) && k !== null && k !== old.name) settledAt ??= Date.now();
      // Keep watching for a while after a new leader appears: a second promotion comes late.
      if (settledAt !== null && Date.now() - settledAt > 5000) break;
      await sleep(100);
    }
    expect(settledAt).not.toBeNull();
    const changes = keys.filter((k) => k !== null && k !== old.name);
    expect(changes).toHaveLength(1);
    expect(survivors.map((n) => n.name)).toContain(changes[0]);
  });
});
