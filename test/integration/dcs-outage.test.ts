/**
 * etcd goes away under a running cluster: the leader stops being writable on its own deadline
 * (it cannot prove it still holds the lock), nobody promotes without the DCS, and when etcd
 * comes back the cluster has one writable leader again.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LocalCluster } from '../../src/local/cluster.ts';
import { inRecovery, sleep } from '../helpers/cluster-tools.ts';

const TTL = 10;
vi.setConfig({ testTimeout: 120_000 });

let cluster: LocalCluster;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pgwarden-dcs-'));
  cluster = new LocalCluster({
    dir,
    nodes: 2,
    scope: 'outage',
    dcs: { ttl: TTL, loop_wait: 2, retry_timeout: 4 },
  });
  await cluster.init();
  await cluster.startAll();
});

afterAll(async () => {
  await cluster?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a DCS outage', () => {
  it('demotes the leader within ttl, promotes nobody, and recovers when etcd returns', async () => {
    expect(await cluster.waitUntilReady({ timeoutMs: 60_000 })).toBe(true);
    const leader = cluster.nodes.find((n) => n.status?.role === 'master')!;
    const replica = cluster.nodes.find((n) => n !== leader)!;

    await cluster.stopEtcd();
    const stoppedAt = Date.now();
    // Writable until at most ttl after its last refresh, then never again while etcd is away.
    let lastWritable = 0;
    let lastAnswer: boolean | null = null;
    while (Date.now() - stoppedAt < (TTL + 5) * 1000) {
      lastAnswer = await inRecovery(leader);
      if (lastAnswer === false) lastWritable = Date.now() - stoppedAt;
      expect(await inRecovery(replica)).not.toBe(false); // nobody promotes without the DCS
      await sleep(250);
    }
    expect(lastWritable).toBeLessThanOrEqual(TTL * 1000);
    expect(lastAnswer).toBe(true); // running again, read-only
    expect(readFileSync(leader.logFile, 'utf8')).toMatch(/demoting self because I do not have the lock/);

    await cluster.startEtcd();
    const back = await cluster.waitUntilReady({ timeoutMs: 60_000 });
    expect(back).toBe(true);
    const writable = [];
    for (const n of cluster.nodes) if ((await inRecovery(n)) === false) writable.push(n.name);
    expect(writable).toHaveLength(1);
  });
});
