/**
 * A live leader whose ports refuse connections keeps its lease, on real processes (issue 10).
 *
 * pgwarden once revoked the lease of a leader whose REST and PostgreSQL ports answered
 * ECONNREFUSED, taking it for dead. A live leader behind a firewall REJECT rule answers exactly
 * so, and the simulator showed two writable primaries; the shortcut was removed. This test keeps
 * it from coming back where the simulator cannot look: three real agents, etcd 3.4 and
 * PostgreSQL 15.
 *
 * The network is the test's own (test/helpers/netns.ts): etcd and each node in a network
 * namespace of their own, joined by veth pairs to a bridge on a private 10.x.y.0/24. The refusal
 * is an nftables rule inside the leader's namespace, `reject with tcp reset` on its REST and
 * PostgreSQL ports for every packet not from itself: peers and the test get ECONNREFUSED, as
 * from a dead host, and the replicas' open streams are reset. The kernel here has nf_tables with
 * REJECT, so no `prohibit` route is needed. The leader's own connections out (to etcd) stay open.
 *
 * 1. Refusing for 3.5 × ttl: the leader key keeps its holder, the leader stays writable on the
 *    same timeline, no replica is promoted, and at no sampled instant are two nodes writable.
 *    Without the rule, every replica streams again from the same leader.
 * 2. Refusing and cut from etcd (packets both ways dropped): it stops being writable on its
 *    own deadline, before etcd expires its lease, so it is read-only before another node is
 *    promoted; then the cluster heals on the new timeline.
 *
 * Each node's PostgreSQL is asked over its Unix socket (which no network rule touches), every
 * 200 ms, all nodes at once; the leader key is read from etcd.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, expect, it, vi } from 'vitest';
import { type ClusterNode, LocalCluster, SUPERUSER } from '../../src/local/cluster.ts';
import { dumpLogs, eventually, sleep } from '../helpers/cluster-tools.ts';
import { IP, NFT, removeStale, TestNetwork } from '../helpers/netns.ts';
import { describeWith, osUser, program, root } from '../helpers/prerequisites.ts';

const TTL = 10;
const SCOPE = 'refuse';
const HOLD_MS = 3.5 * TTL * 1000;
const SAMPLE_EVERY_MS = 200;

vi.setConfig({ testTimeout: 240_000 });

interface NodeSample {
  /** Answered: in recovery (false) or accepting writes (true); down: no postmaster to connect to. */
  state: 'writable' | 'read-only' | 'down' | 'no answer';
  /** A primary's current timeline, or the timeline a standby receives (null: not streaming). */
  timeline: number | null;
  streaming: boolean;
}

interface Sample {
  /** ms since the fault began. */
  at: number;
  leaderKey: string | null | undefined;
  nodes: Record<string, NodeSample>;
}

/** What node's PostgreSQL says of itself, over its Unix socket. */
async function ask(node: ClusterNode): Promise<NodeSample> {
  const client = new pg.Client({
    host: dirname(node.dataDir),
    port: node.pgPort,
    user: SUPERUSER.username,
    password: SUPERUSER.password,
    database: 'postgres',
    connectionTimeoutMillis: 3000,
    query_timeout: 3000,
  });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // No socket file, or a postmaster shutting down or starting up: nothing can write there.
    const down = code === 'ENOENT' || code === 'ECONNREFUSED' || code === '57P03' || code === '57P01';
    return { state: down ? 'down' : 'no answer', timeline: null, streaming: false };
  }
  try {
    const [row] = (
      await client.query<{ ro: boolean; wal: string | null; tli: number | null; status: string | null }>(
        `SELECT pg_is_in_recovery() AS ro,
                CASE WHEN NOT pg_is_in_recovery() THEN pg_walfile_name(pg_current_wal_lsn()) END AS wal,
                (SELECT received_tli FROM pg_stat_wal_receiver) AS tli,
                (SELECT status FROM pg_stat_wal_receiver) AS status`,
      )
    ).rows;
    if (!row) return { state: 'no answer', timeline: null, streaming: false };
    if (!row.ro)
      return { state: 'writable', timeline: Number.parseInt(row.wal!.slice(0, 8), 16), streaming: false };
    const streaming = row.status === 'streaming';
    return { state: 'read-only', timeline: streaming ? row.tli : null, streaming };
  } catch (err) {
    // Cut off by a shutdown (administrator command, or the crash-like immediate stop of a
    // demotion): the postmaster is going down. Anything else proves nothing either way.
    const code = (err as { code?: string }).code;
    const down = code === '57P01' || code === '57P02' || code === '57P03';
    return { state: down ? 'down' : 'no answer', timeline: null, streaming: false };
  } finally {
    await client.end().catch(() => {});
  }
}

/** What a new TCP connection to host:port gets: 'connected', or the error code. */
function connectTo(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 2000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve('timeout');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

describeWith(
  [
    root('network namespaces and nftables rules'),
    program(IP, 'iproute2'),
    program(NFT, 'nftables'),
    program('/usr/bin/etcd', 'etcd-server'),
    program('/usr/lib/postgresql/15/bin/postgres', 'postgresql-15'),
    osUser('postgres'),
  ],
  'a live leader whose ports refuse connections (own network namespaces, nftables REJECT)',
  () => {
    let net: TestNetwork | undefined;
    let cluster: LocalCluster | undefined;
    let dir: string | undefined;
    let failed = false;

    const c = (): LocalCluster => {
      if (!cluster) throw new Error('the cluster is not started');
      return cluster;
    };

    /** The holder of /leader, read from etcd (undefined: etcd did not answer). */
    async function leaderKey(): Promise<string | null | undefined> {
      try {
        const res = await fetch(`${c().etcdEndpoint}/v3/kv/range`, {
          method: 'POST',
          body: JSON.stringify({ key: Buffer.from(`/service/${SCOPE}/leader`).toString('base64') }),
          signal: AbortSignal.timeout(2000),
        });
        const doc = (await res.json()) as { kvs?: Array<{ value: string }> };
        return doc.kvs?.[0] ? Buffer.from(doc.kvs[0].value, 'base64').toString() : null;
      } catch {
        return undefined;
      }
    }

    async function sampleNow(start: number): Promise<Sample> {
      const at = Date.now() - start;
      const [leader, ...answers] = await Promise.all([leaderKey(), ...c().nodes.map(ask)]);
      return {
        at,
        leaderKey: leader,
        nodes: Object.fromEntries(c().nodes.map((n, i) => [n.name, answers[i]!])),
      };
    }

    /** Samples every SAMPLE_EVERY_MS until `stop` holds for a sample or `maxMs` has passed. */
    async function sampleUntil(
      start: number,
      maxMs: number,
      stop: (s: Sample) => boolean = () => false,
    ): Promise<Sample[]> {
      const samples: Sample[] = [];
      while (Date.now() - start < maxMs) {
        const s = await sampleNow(start);
        samples.push(s);
        if (stop(s)) break;
        await sleep(SAMPLE_EVERY_MS);
      }
      return samples;
    }

    const writable = (s: Sample): string[] =>
      Object.entries(s.nodes)
        .filter(([, n]) => n.state === 'writable')
        .map(([name]) => name);

    const show = (s: Sample): string =>
      `${(s.at / 1000).toFixed(1)} s leader=${s.leaderKey} ${Object.entries(s.nodes)
        .map(([name, n]) => `${name}:${n.state}/tl${n.timeline ?? '-'}${n.streaming ? '/streaming' : ''}`)
        .join(' ')}`;

    /** One leader, everyone else streaming from it on its timeline; answers the leader and timeline. */
    async function allStreaming(timeoutMs: number): Promise<{ leader: string; timeline: number }> {
      return eventually(
        'one writable leader and every other node streaming on its timeline',
        async () => {
          const s = await sampleNow(Date.now());
          const w = writable(s);
          if (w.length !== 1 || s.leaderKey !== w[0]) throw new Error(show(s));
          const timeline = s.nodes[w[0]!]!.timeline!;
          for (const [name, n] of Object.entries(s.nodes)) {
            if (name !== w[0] && !(n.streaming && n.timeline === timeline)) throw new Error(show(s));
          }
          return { leader: w[0]!, timeline };
        },
        timeoutMs,
      );
    }

    beforeAll(async () => {
      removeStale();
      net = new TestNetwork(3);
      net.create();
      dir = mkdtempSync(join(tmpdir(), `pgwarden-${SCOPE}-`));
      cluster = new LocalCluster({
        dir,
        nodes: 3,
        scope: SCOPE,
        dcs: { ttl: TTL, loop_wait: 2, retry_timeout: 4 },
        network: net.local(),
        journal: true,
      });
      await cluster.init();
      await cluster.startAll();
      if (!(await cluster.waitUntilReady({ timeoutMs: 90_000 }))) {
        dumpLogs(cluster);
        throw new Error('the cluster did not become ready within 90 s');
      }
    }, 180_000);

    afterEach((ctx) => {
      if (ctx.task.result?.state === 'fail') failed = true;
    });

    afterAll(async () => {
      if (failed) dumpLogs(cluster);
      try {
        for (const n of cluster?.nodes ?? []) net?.clear(n.index);
        await cluster?.stop();
      } finally {
        // Whatever stop() left in the namespaces is killed by pid with them.
        net?.destroy();
        if (dir) rmSync(dir, { recursive: true, force: true });
      }
      expect(net?.leftovers() ?? []).toEqual([]);
    }, 120_000);

    it('keeps its lease, its timeline and sole writability through 3.5 × ttl of refusing; then every replica streams again', async () => {
      const before = await allStreaming(90_000);
      const leader = c().node(before.leader);

      const start = Date.now();
      net!.refuse(leader.index, [leader.apiPort, leader.pgPort]);
      let samples: Sample[];
      try {
        // The refusal is real: from the test's own address both ports refuse, as a dead host's would.
        expect(await connectTo(leader.host, leader.apiPort)).toBe('ECONNREFUSED');
        expect(await connectTo(leader.host, leader.pgPort)).toBe('ECONNREFUSED');
        samples = await sampleUntil(start, HOLD_MS);
      } finally {
        net!.clear(leader.index);
      }

      const report = samples.map(show).join('\n');
      expect(samples.length, report).toBeGreaterThan(HOLD_MS / 1000);
      // Nothing moved: the same holder, the leader writable on its timeline, nobody else writable.
      const moved = samples.filter(
        (s) =>
          s.leaderKey !== leader.name ||
          s.nodes[leader.name]!.state !== 'writable' ||
          s.nodes[leader.name]!.timeline !== before.timeline ||
          writable(s).length !== 1,
      );
      expect(moved.map(show), `samples:\n${report}`).toEqual([]);
      // The peers really were refused: each replica's stream from the leader broke.
      for (const n of c().nodes.filter((x) => x !== leader)) {
        expect(
          samples.some((s) => !s.nodes[n.name]!.streaming),
          `${n.name} kept streaming:\n${report}`,
        ).toBe(true);
      }

      const after = await allStreaming(60_000);
      expect(after).toEqual(before);
    });

    it('refusing and cut from etcd, it is read-only by its own deadline before any other node is promoted', async () => {
      const before = await allStreaming(90_000);
      const leader = c().node(before.leader);
      const etcdPort = Number(new URL(c().etcdEndpoint).port);

      const start = Date.now();
      net!.refuse(leader.index, [leader.apiPort, leader.pgPort]);
      net!.cutFromEtcd(leader.index, etcdPort);
      let samples: Sample[];
      try {
        const promoted = (s: Sample) =>
          writable(s).some((n) => n !== leader.name) && s.leaderKey !== leader.name && s.leaderKey !== null;
        samples = await sampleUntil(start, 6 * TTL * 1000, promoted);
        // A few more seconds: the old leader must not come back writable either.
        samples.push(...(await sampleUntil(start, samples.at(-1)!.at + 3000)));
      } finally {
        net!.clear(leader.index);
      }
      const report = samples.map(show).join('\n');

      expect(
        samples.filter((s) => writable(s).length > 1).map(show),
        `two writable at once:\n${report}`,
      ).toEqual([]);
      const lastWritable = samples.findLast((s) => s.nodes[leader.name]!.state === 'writable');
      // The first sure sight of it not writable: a sample taken as its connection was cut by the
      // demotion's immediate stop (seen in CI: "no answer" between writable and down) proves
      // nothing either way and is passed over; the writable and read-only checks stay strict.
      const firstReadOnly = samples.find(
        (s) => s.at > (lastWritable?.at ?? -1) && s.nodes[leader.name]!.state !== 'no answer',
      );
      const firstPromoted = samples.find((s) => writable(s).some((n) => n !== leader.name));
      expect(firstPromoted, `no other node was promoted within ${6 * TTL} s:\n${report}`).toBeDefined();
      expect(lastWritable, `the leader was never seen writable:\n${report}`).toBeDefined();
      // Seen not writable for sure: in recovery or no postmaster, not merely slow to answer.
      expect(['read-only', 'down'], report).toContain(firstReadOnly?.nodes[leader.name]?.state);
      // The old leader stopped being writable first, and stayed so.
      expect(firstReadOnly!.at, `promoted before the old leader was read-only:\n${report}`).toBeLessThan(
        firstPromoted!.at,
      );
      expect(
        samples
          .filter((s) => s.at >= firstReadOnly!.at && s.nodes[leader.name]!.state === 'writable')
          .map(show),
      ).toEqual([]);
      // …and not before its lease could have run out: a deadline within the ttl of the cut.
      expect(firstReadOnly!.at, report).toBeLessThan(TTL * 1000 + 5000);
      process.stderr.write(
        `refusing-leader: ${leader.name} read-only ${(firstReadOnly!.at / 1000).toFixed(1)} s after the cut, ` +
          `${firstPromoted!.leaderKey} writable at ${(firstPromoted!.at / 1000).toFixed(1)} s\n`,
      );

      const after = await allStreaming(120_000);
      expect(after.leader).not.toBe(leader.name);
      expect(after.timeline).toBe(before.timeline + 1);
    });
  },
);
