/**
 * Gossip on real processes: three agents, etcd 3.4 and PostgreSQL 15 on loopback. Every agent
 * keeps a link to every other; `/gossip` admits only members of this scope with the REST API's
 * credentials; frames that cannot be read are counted and never hurt the agent; and when the
 * leader dies, the race asks the surviving replica over gossip, not over GET /patroni.
 */
import { pack, unpack } from 'msgpackr';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import type { JournalEntry } from '../../src/actors/journal.ts';
import { type ClusterNode, REST_AUTH } from '../../src/local/cluster.ts';
import { loadJournalFiles } from '../../src/replay/journals.ts';
import { encodeFrame, GOSSIP_VERSION, type StatusFrame } from '../../src/transport/gossip-frame.ts';
import { eventually, useLocalCluster } from '../helpers/cluster-tools.ts';

vi.setConfig({ testTimeout: 120_000 });

const SCOPE = 'gossip';
const clusterOf = useLocalCluster(
  { nodes: 3, scope: SCOPE, dcs: { ttl: 10, loop_wait: 2, retry_timeout: 4 }, journal: true },
  { beforeAll, afterAll, afterEach },
);

const AUTH = `Basic ${Buffer.from(`${REST_AUTH.username}:${REST_AUTH.password}`).toString('base64')}`;

/** Every `pgwarden_gossip_*` sample of a node's /metrics, by metric name and reason label. */
async function gossipMetrics(node: ClusterNode): Promise<Record<string, number>> {
  const res = await fetch(`${node.apiUrl}/metrics`, { headers: { authorization: AUTH } });
  const out: Record<string, number> = {};
  for (const line of (await res.text()).split('\n')) {
    const m = /^(pgwarden_gossip_\w+)\{[^}]*?(?:reason="(\w+)")?\} (\d+)$/.exec(line);
    if (m) out[m[2] ? `${m[1]}:${m[2]}` : m[1]!] = Number(m[3]);
  }
  return out;
}

/** Opens `/gossip` on `node` with these headers: the socket, or the HTTP status and text it was refused with. */
function dial(
  node: ClusterNode,
  headers: Record<string, string>,
): Promise<{ ws: WebSocket } | { status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${node.host}:${node.apiPort}/gossip`, { headers, handshakeTimeout: 5000 });
    ws.on('open', () => resolve({ ws }));
    ws.on('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (c: Buffer) => {
        text += c.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    ws.on('error', reject);
  });
}

const member = (name: string, scope = SCOPE) => ({
  authorization: AUTH,
  'x-pgwarden-member': name,
  'x-pgwarden-scope': scope,
});

describe('gossip between real agents', () => {
  it('every agent has an open link to each of the others, and frames flow', async () => {
    const cluster = clusterOf();
    for (const node of cluster.nodes) {
      await eventually(`${node.name} linked to both others`, async () => {
        const m = await gossipMetrics(node);
        if (m['pgwarden_gossip_peers_connected'] !== 2) throw new Error(JSON.stringify(m));
        return m;
      });
    }
    const before = await gossipMetrics(cluster.nodes[0]!);
    await new Promise((r) => setTimeout(r, 11_500));
    const after = await gossipMetrics(cluster.nodes[0]!);
    // Every 5 s (gossip.interval's default): a status frame from each of the two others and an
    // ack of each of ours; every ticker fires at least twice in 11.5 s, whatever its phase: 8.
    expect(
      after['pgwarden_gossip_frames_received_total']! - before['pgwarden_gossip_frames_received_total']!,
    ).toBeGreaterThanOrEqual(8);
  });

  it('/gossip admits members of this scope with the REST credentials only', async () => {
    const node = clusterOf().nodes[0]!;
    const refused = async (headers: Record<string, string>) => {
      const r = await dial(node, headers);
      if ('ws' in r) {
        r.ws.terminate();
        throw new Error(`admitted with ${JSON.stringify(headers)}`);
      }
      return r;
    };
    const { authorization: _, ...noAuth } = member('node2');
    expect((await refused(noAuth)).status).toBe(401);
    expect(await refused(member('intruder'))).toEqual({
      status: 403,
      text: `intruder is not a member of ${SCOPE}`,
    });
    expect(await refused(member('node2', 'other'))).toEqual({
      status: 403,
      text: `node2 belongs to scope other, not ${SCOPE}`,
    });
    expect((await refused({ ...member('node2'), origin: 'http://evil.example' })).status).toBe(403);
  });

  it('a member asking gets an ack and an answer; frames it cannot read are counted, and the agent keeps going', async () => {
    const node = clusterOf().nodes[0]!;
    const r = await dial(node, member('node3'));
    if (!('ws' in r)) throw new Error(`refused: ${r.status} ${r.text}`);
    const { ws } = r;
    const got: Array<Record<string, unknown>> = [];
    ws.on('message', (data: Buffer) => got.push(unpack(data) as Record<string, unknown>));
    const ask: StatusFrame = {
      v: GOSSIP_VERSION,
      k: 'status',
      scope: SCOPE,
      from: 'node3',
      seq: 41,
      sentAt: 1,
      wall: Date.now(),
      state: 'running',
      role: 'replica',
      running: true,
      inRecovery: true,
      timeline: 1,
      current: null,
      received: 1,
      replayed: 1,
      leader: null,
      isLeader: false,
      nofailover: false,
      watchdogFailed: false,
      ask: 41,
    };
    ws.send(encodeFrame(ask));
    await eventually('an ack and an answer', async () => {
      const ack = got.find((f) => f['k'] === 'ack' && f['seq'] === 41);
      const answer = got.find((f) => f['k'] === 'status' && f['answers'] === 41);
      if (!ack || !answer) throw new Error(JSON.stringify(got));
      expect(answer).toMatchObject({ v: 1, scope: SCOPE, from: node.name, running: true });
      return answer;
    });
    const before = await gossipMetrics(node);
    const closed = new Promise<void>((resolve) => ws.on('close', () => resolve()));
    ws.send(Buffer.from([0x92, 0x01])); // cut short
    ws.send(pack({ ...ask, v: 9 }));
    ws.send(pack({ ...ask, scope: 'other' }));
    ws.send(pack({ ...ask, from: 'node2' }));
    for (let i = 0; i < 6; i++) ws.send(pack({ ...ask, seq: 'x' }));
    await closed; // ten unreadable frames in a row: the agent closes the link
    const after = await gossipMetrics(node);
    const grew = (reason: string) =>
      after[`pgwarden_gossip_frames_dropped_total:${reason}`]! -
      before[`pgwarden_gossip_frames_dropped_total:${reason}`]!;
    expect([grew('undecodable'), grew('version'), grew('scope'), grew('sender'), grew('malformed')]).toEqual([
      1, 1, 1, 1, 6,
    ]);
    const status = await fetch(`${node.apiUrl}/patroni`);
    expect(status.status).toBeLessThan(600);
    expect((await gossipMetrics(node))['pgwarden_gossip_peers_connected']).toBe(2);
  });

  it('when the leader dies, the race asks the surviving replica over gossip', async () => {
    const cluster = clusterOf();
    const leader = (await cluster.leader())!;
    await cluster.killNode(leader);
    await eventually(
      'a new leader',
      async () => {
        const now = await cluster.leader();
        if (!now || now === leader) throw new Error(`leader ${now}`);
        return now;
      },
      60_000,
    );
    const probes: Array<{ node: string; peers: Array<{ name: string; via?: string }> }> = [];
    for (const n of cluster.nodes.filter((x) => x.name !== leader)) {
      const [entries] = loadJournalFiles([n.journalFile]) as JournalEntry[][];
      for (const e of entries!) {
        if (
          !String(e.what).startsWith('xstate.done.actor') ||
          !String(e.what).endsWith('racing.probing.asking')
        )
          continue;
        const output = (e.event as { output?: Array<{ name: string; via?: string }> }).output ?? [];
        probes.push({ node: n.name, peers: output });
      }
    }
    const survivors = cluster.nodes.filter((x) => x.name !== leader).map((x) => x.name);
    const asked = probes.flatMap((p) => p.peers.filter((q) => survivors.includes(q.name)));
    expect(asked.length, JSON.stringify(probes)).toBeGreaterThan(0);
    expect(
      asked.every((q) => q.via === 'gossip'),
      JSON.stringify(probes),
    ).toBe(true);
    cluster.startNode(leader);
  });
});
