/**
 * `pgwarden <patronictl command>` as a child process against a real 3-node cluster, with the real
 * patronictl 3.0.2 as the reference for `list` where it is installed.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { LocalCluster } from '../../src/local/cluster.ts';
import { dumpLogs, etcdValue, eventually } from '../helpers/cluster-tools.ts';
import { itWith, program } from '../helpers/prerequisites.ts';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });
const BIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../bin/pgwarden.js');
const PATRONICTL = '/usr/bin/patronictl';
const SCOPE = 'ctl';

let cluster: LocalCluster;
let dir: string;
let failed = false;

interface Run {
  code: number;
  out: string;
  err: string;
}

function run(cmd: string, args: string[]): Promise<Run> {
  return new Promise((done) => {
    // spawns: node patronictl (the callers below; PATRONICTL is an absolute path)
    const child = execFile(
      cmd,
      args,
      { timeout: 90_000, env: { ...process.env, HOME: dir, PATRONICTL_CONFIG_FILE: '' } },
      (err, stdout, stderr) => {
        const code = err ? (err as { code?: unknown }).code : 0;
        done({ code: typeof code === 'number' ? code : 1, out: stdout, err: stderr });
      },
    );
    child.stdin?.end(); // no TTY, nothing to answer: prompts abort
  });
}

/** `pgwarden <command> -c node1.yml <args>` */
const pgw = (command: string, ...args: string[]) =>
  run(process.execPath, [BIN, command, '-c', cluster.nodes[0]!.configFile, ...args]);
const patronictl = (...args: string[]) => run(PATRONICTL, ['-c', cluster.nodes[0]!.configFile, ...args]);

const leaderKey = () => etcdValue(cluster, SCOPE, 'leader');
const dcsConfig = async () =>
  JSON.parse((await etcdValue(cluster, SCOPE, 'config'))!) as Record<string, unknown>;
const ready = async () => expect(await cluster.waitUntilReady({ timeoutMs: 60_000 })).toBe(true);
const replicaOf = async () => (await cluster.poll()).find((n) => n.status?.role === 'replica')!.name;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pgwarden-ctl2-'));
  cluster = new LocalCluster({
    dir,
    nodes: 3,
    scope: SCOPE,
    dcs: { ttl: 10, loop_wait: 2, retry_timeout: 4 },
  });
  await cluster.init();
  await cluster.startAll();
  await ready();
});

afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') failed = true;
});

afterAll(async () => {
  if (failed && cluster) dumpLogs(cluster);
  await cluster?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('pgwarden ctl commands against a live cluster', () => {
  itWith(
    [program(PATRONICTL, 'patroni')],
    'list -f json shows what patronictl list -f json shows',
    async () => {
      await eventually('same members, roles and states', async () => {
        const [ours, theirs] = await Promise.all([
          pgw('list', '-f', 'json'),
          patronictl('list', '-f', 'json'),
        ]);
        expect(ours.code).toBe(0);
        const pick = (text: string) =>
          (JSON.parse(text) as Array<Record<string, unknown>>).map((r) => [
            r['Member'],
            r['Host'],
            r['Role'],
            r['State'],
            r['TL'],
          ]);
        expect(pick(ours.out)).toEqual(pick(theirs.out));
        expect(pick(ours.out)).toHaveLength(3);
      });
    },
  );

  it('list (pretty) and topology', async () => {
    const list = await pgw('list');
    expect(list.code).toBe(0);
    expect(list.out).toMatch(/^\+ Cluster: ctl -+\+/);
    expect(list.out.match(/\| Leader +\| running/g)).toHaveLength(1);
    expect(list.out.match(/\| Replica +\| running/g)).toHaveLength(2);
    const topo = await pgw('topology');
    const leader = (await leaderKey())!;
    expect(topo.out).toMatch(new RegExp(`\\| ${leader} +\\|`));
    expect(topo.out.match(/\| \+ node\d +\|/g)).toHaveLength(2);
  });

  it('dsn -r primary, version, show-config', async () => {
    const leader = cluster.node((await leaderKey())!);
    expect((await pgw('dsn', '-r', 'primary')).out).toBe(`host=127.0.0.1 port=${leader.pgPort}\n`);
    const version = await pgw('version', SCOPE);
    expect(version.out).toMatch(/^pgwarden version /);
    for (const n of cluster.nodes) expect(version.out).toContain(`${n.name}: Patroni 3.0.2 PostgreSQL 15.`);
    const show = await pgw('show-config');
    expect(show.out).toContain('loop_wait: 2\n');
    expect(show.out).toContain('ttl: 10\n');
  });

  it('edit-config -s ttl=20 --force writes /config and prints the diff; bad input writes nothing', async () => {
    const r = await pgw('edit-config', '-s', 'ttl=20', '--force');
    expect(r.code).toBe(0);
    expect(r.out).toContain('-ttl: 10\n+ttl: 20\n');
    expect(r.out).toContain('Configuration changed');
    expect(await dcsConfig()).toMatchObject({ ttl: 20, loop_wait: 2 });

    const before = await etcdValue(cluster, SCOPE, 'config');
    const bad = await pgw('edit-config', '-s', 'nonsense', '--force');
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('Invalid parameter setting nonsense');
    const noTty = await pgw('edit-config');
    expect(noTty.code).toBe(1);
    expect(noTty.err).toMatch(/No changes given/);
    expect(await etcdValue(cluster, SCOPE, 'config')).toBe(before);

    expect((await pgw('edit-config', '-s', 'ttl=10', '--force', '-q')).out).toBe('Configuration changed\n');
    expect(await dcsConfig()).toMatchObject({ ttl: 10 });
  });

  it('switchover --force moves the leader; history records it', async () => {
    const from = (await leaderKey())!;
    const r = await pgw('switchover', '--force');
    expect(r.code).toBe(0);
    expect(r.out).toContain('Current cluster topology');
    expect(r.out).toMatch(/Successfully switched over to "node\d"/);
    await eventually('new leader', async () => expect(await leaderKey()).not.toBe(from));
    const to = (await leaderKey())!;
    const h = await pgw('history');
    expect(h.out).toMatch(
      new RegExp(`\\|\\s+1 \\|\\s+\\d+ \\| no recovery target specified \\| .* \\| ${to}\\s+\\|`),
    );
    const json = JSON.parse((await pgw('history', '-f', 'json')).out) as Array<Record<string, unknown>>;
    expect(json.at(-1)).toMatchObject({ TL: 1, 'New Leader': to });
    await ready();
  });

  it('switchover refuses an unknown candidate and, without a TTY, aborts at the prompt', async () => {
    const leader = await leaderKey();
    const unknown = await pgw('switchover', '--candidate', 'nope', '--force');
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain('Member nope does not exist in cluster ctl');
    const aborted = await pgw('switchover');
    expect(aborted.code).toBe(1);
    expect(aborted.err).toContain('Aborted!');
    expect(await leaderKey()).toBe(leader);
  });

  it('failover --candidate X --force', async () => {
    await ready();
    const from = (await leaderKey())!;
    const to = cluster.nodes.map((n) => n.name).find((n) => n !== from)!;
    const r = await pgw('failover', '--candidate', to, '--force');
    expect(r.code).toBe(0);
    expect(r.out).toContain(`Successfully failed over to "${to}"`);
    await eventually('candidate leads', async () => expect(await leaderKey()).toBe(to));
    await ready();
  });

  it('restart, reload and reinit --wait of a replica', async () => {
    const replica = await replicaOf();
    const restart = await pgw('restart', SCOPE, replica, '--force');
    expect(restart.out).toContain(`Success: restart on member ${replica}`);
    const reload = await pgw('reload', SCOPE, replica, '--force');
    expect(reload.out).toMatch(
      new RegExp(`(Reload request received|No changes to apply) (for|on) member ${replica}`),
    );
    const reinit = await pgw('reinit', SCOPE, replica, '--force', '--wait');
    expect(reinit.code).toBe(0);
    expect(reinit.out).toContain(`Success: reinitialize for member ${replica}`);
    expect(reinit.out).toContain(`Reinitialize is completed on: ${replica}`);
    await ready();
  });

  it('pause, a second pause fails, resume --wait', async () => {
    const p = await pgw('pause');
    expect(p.out).toContain('Success: cluster management is paused');
    expect(await dcsConfig()).toMatchObject({ pause: true });
    const again = await pgw('pause');
    expect(again.code).toBe(1);
    expect(again.err).toContain('Cluster is already paused');
    expect((await pgw('list')).out).toContain(' Maintenance mode: on');
    const sched = await pgw('switchover', '--scheduled', '2030-01-01T12:00+00:00', '--force');
    expect(sched.err).toContain("Can't schedule switchover in the paused state");
    const r = await pgw('resume', '--wait');
    expect(r.code).toBe(0);
    expect(r.out).toContain('Success: cluster management is resumed');
    expect((await pgw('resume')).err).toContain('Cluster is not paused');
  });

  it('a scheduled restart shows in list and flush restart removes it', async () => {
    const replica = await replicaOf();
    const at = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d+Z$/, '+00:00');
    expect((await pgw('restart', SCOPE, replica, '--scheduled', at, '--force')).out).toContain(
      `Success: restart scheduled on member ${replica}`,
    );
    await eventually('scheduled restart in list', async () =>
      expect((await pgw('list')).out).toContain('Scheduled restart'),
    );
    const r = await pgw('flush', SCOPE, 'restart', '--force');
    expect(r.out).toContain(`Success: flush scheduled restart for member ${replica}`);
    expect((await pgw('flush', SCOPE, 'switchover')).out).toBe('No pending scheduled switchover\n');
  });

  it('errors: missing config file, bad role, bad flush target', async () => {
    const noFile = await run(process.execPath, [BIN, 'list', '-c', join(dir, 'missing.yml')]);
    expect(noFile.code).toBe(1);
    expect(noFile.err).toContain('not existing or no read rights');
    const role = await pgw('dsn', '-r', 'boss');
    expect(role.code).toBe(2);
    expect(role.err).toContain("Invalid value for '--role'");
    expect((await pgw('flush', SCOPE, 'everything')).code).toBe(2);
  });
});
