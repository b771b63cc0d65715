/**
 * The real patronictl 3.0.2 (Debian package `patroni`) against a pgwarden cluster: it reads
 * our etcd keys and calls our REST API exactly as it does with Patroni. .ci/run installs it.
 */
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { afterAll, afterEach, beforeAll, expect, it, vi } from 'vitest';
import { etcdValue, eventually, useLocalCluster } from '../helpers/cluster-tools.ts';
import { describeWith, program } from '../helpers/prerequisites.ts';

vi.setConfig({ testTimeout: 120_000 });

const clusterOf = useLocalCluster(
  { nodes: 3, scope: 'ctl', dcs: { ttl: 10, loop_wait: 2, retry_timeout: 4 } },
  { beforeAll, afterAll, afterEach },
);
const PATRONICTL = '/usr/bin/patronictl';

function ctl(...args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      PATRONICTL,
      ['-c', clusterOf().nodes[0]!.configFile, ...args],
      { timeout: 90_000, env: { ...process.env, HOME: tmpdir() } },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: number }).code ?? 1) : 0;
        resolve({ code: typeof code === 'number' ? code : 1, out: `${stdout}${stderr}` });
      },
    );
  });
}

const leaderKey = () => etcdValue(clusterOf(), 'ctl', 'leader');

describeWith([program(PATRONICTL, 'patroni')], 'patronictl 3.0.2 against pgwarden', () => {
  it('list shows one Leader and two Replicas, running', async () => {
    // Member keys follow REST readiness within a publish: allow a moment.
    await eventually(
      'patronictl list shows the settled cluster',
      async () => {
        const r = await ctl('list');
        expect(r.code).toBe(0);
        expect(r.out.match(/\| Leader +\| running/g)).toHaveLength(1);
        expect(r.out.match(/\| Replica +\| running/g)).toHaveLength(2);
      },
      15_000,
    );
  });

  it('version asks every member over REST', async () => {
    const r = await ctl('version', 'ctl');
    for (const n of clusterOf().nodes) expect(r.out).toContain(`${n.name}: Patroni 3.0.2 PostgreSQL 15`);
  });

  it('switchover moves the leader and history records it', async () => {
    const from = (await leaderKey())!;
    const to = clusterOf()
      .nodes.map((n) => n.name)
      .find((n) => n !== from)!;
    const r = await ctl('switchover', '--leader', from, '--candidate', to, '--force');
    expect(r.out).toContain(`Successfully switched over to "${to}"`);
    expect(await leaderKey()).toBe(to);
    const h = await ctl('history');
    expect(h.out).toMatch(
      new RegExp(`\\|\\s+1 \\|\\s+\\d+ \\| no recovery target specified \\| .* \\| ${to}\\s+\\|`),
    );
  });

  it('failover to a named candidate', async () => {
    await clusterOf().waitUntilReady({ timeoutMs: 60_000 });
    const from = (await leaderKey())!;
    const to = clusterOf()
      .nodes.map((n) => n.name)
      .find((n) => n !== from)!;
    const r = await ctl('failover', 'ctl', '--candidate', to, '--force');
    expect(r.out).toContain(`Successfully failed over to "${to}"`);
    expect(await leaderKey()).toBe(to);
  });

  it('restart, reload and reinit of a replica', async () => {
    await clusterOf().waitUntilReady({ timeoutMs: 60_000 });
    const replica = clusterOf().nodes.find((n) => n.status?.role === 'replica')!.name;
    expect((await ctl('restart', 'ctl', replica, '--force')).out).toContain(
      `Success: restart on member ${replica}`,
    );
    expect((await ctl('reload', 'ctl', replica, '--force')).out).toContain(
      `Reload request received for member ${replica}`,
    );
    expect((await ctl('reinit', 'ctl', replica, '--force')).out).toContain(
      `Success: reinitialize for member ${replica}`,
    );
    expect(await clusterOf().waitUntilReady({ timeoutMs: 60_000 })).toBe(true);
  });

  it('edit-config writes /config with compare-and-set; show-config reads it back', async () => {
    const r = await ctl('edit-config', 'ctl', '-s', 'ttl=20', '-p', 'max_connections=101', '--force');
    expect(r.out).toContain('+ttl: 20');
    const cfg = JSON.parse((await etcdValue(clusterOf(), 'ctl', 'config'))!) as Record<string, unknown>;
    expect(cfg).toMatchObject({ ttl: 20, postgresql: { parameters: { max_connections: 101 } } });
    expect((await ctl('show-config', 'ctl')).out).toMatch(/ttl: 20/);
    await eventually('pending restart shows in list', async () => {
      expect((await ctl('list', 'ctl')).out).toContain('Pending restart');
    });
  });

  it('pause and resume', async () => {
    expect((await ctl('pause', 'ctl')).out).toContain('Success: cluster management is paused');
    expect((await ctl('list', 'ctl')).out).toContain('Maintenance mode: on');
    expect((await ctl('resume', 'ctl')).out).toContain('Success: cluster management is resumed');
  });

  it('a scheduled restart shows in list and flush removes it', async () => {
    const replica = (await clusterOf().poll()).find((n) => n.status?.role === 'replica')!.name;
    const at = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d+Z$/, '+00:00');
    expect((await ctl('restart', 'ctl', replica, '--scheduled', at, '--force')).out).toContain(
      `Success: restart scheduled on member ${replica}`,
    );
    await eventually('scheduled restart in list', async () =>
      expect((await ctl('list', 'ctl')).out).toContain('Scheduled restart'),
    );
    expect((await ctl('flush', 'ctl', 'restart', '--force')).out).toContain(
      `Success: flush scheduled restart for member ${replica}`,
    );
  });
});
