/**
 * Patroni's watchdog on real processes, through Patroni's own test driver (`driver: testing`: the
 * device is a named pipe, and test/helpers/watchdog-fifo.ts plays the device, resetting the host
 * — killing its agent and postmaster — when the count runs out).
 *
 * First against the oracle: the real Patroni 3.0.2 and pgwarden, same YAML, must speak the same
 * protocol to the device (timeout ttl − safety_margin, then keepalives well within it, and the
 * magic close at a clean shutdown) and report `watchdog_failed` alike when a required device is
 * missing. Then pgwarden's three-node cluster: kill -9 of the leader's agent alone stops the
 * keepalives, the watchdog resets that host before the lease runs out, and the new leader is
 * promoted only after it — no window with two writable servers, even where no fence could reach.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it, vi } from 'vitest';
import { agentArgv } from '../../bench/lib/agents.ts';
import { processTree, signalAll } from '../../bench/lib/procs.ts';
import { type ClusterNode, LocalCluster } from '../../src/local/cluster.ts';
import { lookupUser } from '../../src/local/os-user.ts';
import {
  dumpLogs,
  inRecovery,
  leaderNode,
  sleep,
  useLocalCluster,
  writingTo,
} from '../helpers/cluster-tools.ts';
import { KINDS, type Kind, NEEDS } from '../helpers/patroni-diff.ts';
import { describeWith } from '../helpers/prerequisites.ts';
import { FifoWatchdog } from '../helpers/watchdog-fifo.ts';

vi.setConfig({ testTimeout: 240_000 });

const DCS = { ttl: 20, loop_wait: 2, retry_timeout: 4 };
/** ttl − Patroni's default safety_margin (5). */
const TIMEOUT_S = 15;
const owner = lookupUser('postgres');
const pipes = mkdtempSync(join(tmpdir(), 'pgwarden-wd-'));
// The agents run as postgres: they must reach the pipes (the directory is root's, 0700, made so).
chmodSync(pipes, 0o711);
const fifos: FifoWatchdog[] = [];
afterAll(() => {
  for (const f of fifos) f.close();
  rmSync(pipes, { recursive: true, force: true });
});

/**
 * A named pipe for `node` of `scope`; a reset kills the node in `cluster()` as a host reset does:
 * its agent, its postmaster and every backend, each sent SIGKILL before onFire returns (killing the
 * postmaster alone left backends that could still answer a commit for a moment: seen in CI, an
 * answer received 1 ms after the firing).
 */
function fifoFor(scope: string, node: string, cluster: () => LocalCluster | undefined): FifoWatchdog {
  const f = new FifoWatchdog(join(pipes, `${scope}-${node}`), owner, () => {
    const c = cluster();
    if (!c) return;
    const postmaster = c.postmasterPid(node);
    signalAll(
      [c.agentPid(node), ...(postmaster ? processTree(postmaster) : [])].filter((p): p is number => !!p),
      'SIGKILL',
    );
    void c.killNode(node);
  });
  fifos.push(f);
  return f;
}

async function getPatroni(node: ClusterNode): Promise<Record<string, unknown>> {
  return (await (
    await fetch(`${node.apiUrl}/patroni`, { signal: AbortSignal.timeout(3000) })
  ).json()) as Record<string, unknown>;
}

describeWith(NEEDS, 'the watchdog, beside Patroni 3.0.2', () => {
  const sides = new Map<Kind, { cluster: LocalCluster; fifo: FifoWatchdog; dir: string }>();
  let failed = false;
  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') failed = true;
  });
  afterAll(async () => {
    for (const s of sides.values()) {
      if (failed) dumpLogs(s.cluster);
      await s.cluster.stop();
      rmSync(s.dir, { recursive: true, force: true });
    }
  });

  beforeAll(async () => {
    await Promise.all(
      KINDS.map(async (kind) => {
        const scope = `wd-${kind}`;
        const dir = mkdtempSync(join(tmpdir(), `pgwarden-${scope}-`));
        let cluster: LocalCluster | undefined;
        const fifo = fifoFor(scope, 'node1', () => cluster);
        cluster = new LocalCluster({
          dir,
          nodes: 2,
          scope,
          dcs: DCS,
          agentArgv: agentArgv(kind),
          // node1 with the test device; node2 requires one that is not there.
          editConfig: (node, doc) => ({
            ...doc,
            watchdog:
              node.name === 'node1'
                ? { mode: 'required', driver: 'testing', device: fifo.path }
                : { mode: 'required', device: join(pipes, 'missing') },
          }),
        });
        sides.set(kind, { cluster, fifo, dir });
        await cluster.init();
        cluster.startNode('node1');
        const leads = (nodes: ClusterNode[]) =>
          nodes[0]?.status?.role === 'master' && nodes[0].status.state === 'running';
        if (!(await cluster.waitFor(leads, 60_000))) {
          dumpLogs(cluster);
          throw new Error(`${kind}: node1 did not lead within 60 s`);
        }
        cluster.startNode('node2');
      }),
    );
  });

  it('the leader arms the device with ttl − safety_margin and keeps it alive well within it', async () => {
    await sleep(3 * TIMEOUT_S * 300); // a few loops of both
    for (const kind of KINDS) {
      const { fifo } = sides.get(kind)!;
      const ops = fifo.sequence();
      expect(ops[0], kind).toBe(`timeout ${TIMEOUT_S}`);
      expect(
        ops.filter((o) => o.startsWith('timeout')),
        kind,
      ).toHaveLength(1);
      expect(ops.filter((o) => o === 'keepalive').length, kind).toBeGreaterThanOrEqual(1);
      const beats = fifo.ops.map((o) => o.at);
      const gaps = beats.slice(1).map((t, i) => t - beats[i]!);
      // Within the timeout, less the loop_wait the agent needs to demote and close it first.
      expect(Math.max(...gaps, Date.now() - beats.at(-1)!), kind).toBeLessThan(
        (TIMEOUT_S - DCS.loop_wait) * 1000,
      );
      expect(fifo.firings, kind).toEqual([]);
      process.stderr.write(
        `watchdog ${kind}: ${ops.length} ops, keepalive every ${Math.round(Math.max(...gaps) / 100) / 10} s at most\n`,
      );
    }
  });

  it('a member that requires a watchdog it cannot use reports watchdog_failed, as Patroni does', async () => {
    for (const kind of KINDS) {
      const { cluster } = sides.get(kind)!;
      const doc = await getPatroni(cluster.node('node2'));
      expect(doc['watchdog_failed'], kind).toBe(true);
      expect((await getPatroni(cluster.node('node1')))['watchdog_failed'], kind).toBeUndefined();
    }
  });

  it('a clean shutdown of the leader ends with the magic close: the device stops counting', async () => {
    for (const kind of KINDS) {
      const { cluster, fifo } = sides.get(kind)!;
      await cluster.stopNode('node2');
      await cluster.stopNode('node1');
      expect(fifo.sequence().at(-1), kind).toBe('close');
      expect(fifo.armed, kind).toBe(false);
      expect(fifo.firings, kind).toEqual([]);
    }
  });
});

describeWith(NEEDS, 'the watchdog resets the host of a leader whose agent died', () => {
  const devices = new Map<string, FifoWatchdog>();
  const clusterOf = useLocalCluster(
    {
      nodes: 3,
      scope: 'wdreset',
      dcs: DCS,
      journal: true,
      editConfig: (node, doc) => {
        const f = fifoFor('wdreset', node.name, () => clusterOf());
        devices.set(node.name, f);
        return { ...doc, watchdog: { mode: 'required', driver: 'testing', device: f.path } };
      },
    },
    { beforeAll, afterAll, afterEach },
  );

  it('only the leader arms its device', async () => {
    const leader = await leaderNode(clusterOf());
    await sleep(2000);
    for (const [name, f] of devices) {
      expect(f.armed, name).toBe(name === leader.name);
    }
  });

  it("kill -9 of the leader's agent: its host is reset before another node is writable", async () => {
    const cluster = clusterOf();
    const old = await leaderNode(cluster);
    const client = writingTo(
      old,
      'SELECT txid_current(), (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS server_ms',
      50,
    );
    await sleep(1000);
    await cluster.killAgent(old.name);
    const killedAt = Date.now();
    let writableAt = 0;
    while (writableAt === 0) {
      expect(Date.now() - killedAt).toBeLessThan(90_000);
      for (const n of cluster.nodes) {
        if (n !== old && (await inRecovery(n, 500)) === false) writableAt = Date.now();
      }
      await sleep(50);
    }
    await client.stop();
    const reset = devices.get(old.name)!.firings[0];
    process.stderr.write(
      `watchdog reset: ${reset === undefined ? 'none' : `${reset - killedAt} ms after the kill`}, new primary writable after ${writableAt - killedAt} ms; old server's last ack ${(client.acks.at(-1) ?? 0) - writableAt} ms from then\n`,
    );
    expect(reset).toBeDefined();
    expect(reset!).toBeLessThan(writableAt);
    // Run by the server after the reset: none (an answer may still arrive after it, sent before).
    expect(client.ranAt.filter((t) => t >= reset!)).toEqual([]);
    expect(client.ranAt.length).toBeGreaterThan(0);
    expect(cluster.postmasterPid(old.name)).toBeNull();
  });
});
