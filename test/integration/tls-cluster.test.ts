/**
 * A cluster whose REST API is https with a private CA and required client certificates
 * (`restapi.certfile`/`keyfile`/`cafile`, `verify_client: required`) on real processes: the
 * agents' own requests to each other follow Patroni's rule (config/peer-tls.ts) — gossip links
 * open, POST /failsafe confirms the leader while etcd is down, and the leader race's probes get
 * answers over gossip and over GET /patroni. node3 runs without gossip and with nofailover, so
 * that every REST path between agents is used: the others reach it over REST only, it reaches
 * them over REST only, and the leader is never node3.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { JournalEntry } from '../../src/actors/journal.ts';
import type { ClusterNode } from '../../src/local/cluster.ts';
import { loadJournalFiles } from '../../src/replay/journals.ts';
import { peerRequest } from '../../src/transport/http-request.ts';
import { readPeerTls } from '../../src/transport/peer-tls.ts';
import { eventually, inRecovery, leaderNode, sleep, useLocalCluster } from '../helpers/cluster-tools.ts';
import { makeTestCerts } from '../helpers/tls-certs.ts';

vi.setConfig({ testTimeout: 180_000 });

const BIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../bin/pgwarden.js');
const PATRONICTL = '/usr/bin/patronictl';

const TTL = 10;
const certs = makeTestCerts();
// One certificate per cluster, for the nodes' address and good both ways, as deployments that
// set only restapi.certfile use it (Patroni presents it as its client certificate too).
certs.issue(
  'node',
  'ca',
  'basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n',
);
const clusterOf = useLocalCluster(
  {
    nodes: 3,
    scope: 'tls',
    dcs: { ttl: TTL, loop_wait: 2, retry_timeout: 4, failsafe_mode: true },
    journal: true,
    restapiTls: {
      cafile: certs.file('ca.crt'),
      certfile: certs.file('node.crt'),
      keyfile: certs.file('node.key'),
    },
    tags: (i) => (i === 2 ? { nofailover: true } : {}),
    editConfig: (node, doc) => (node.index === 2 ? { ...doc, gossip: { enabled: false } } : doc),
  },
  { beforeAll, afterAll, afterEach },
);
afterAll(() => certs.remove());

/** GET of `path` with the CA and whichever client certificate `client` names (none: no certificate). */
function getWith(node: ClusterNode, path: string, client: 'node' | 'client' | 'rogue' | 'none') {
  const tls = readPeerTls({
    cafile: certs.file('ca.crt'),
    ...(client === 'none'
      ? {}
      : { certfile: certs.file(`${client}.crt`), keyfile: certs.file(`${client}.key`) }),
    insecure: false,
  });
  return peerRequest(new URL(`${node.apiUrl}${path}`), { timeoutMs: 3000, tls });
}

async function metric(node: ClusterNode, name: string): Promise<number | null> {
  const text = (await clusterOf().rest.request(`${node.apiUrl}/metrics`)).text;
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : null;
}

/** A CLI on node1's YAML (its restapi files, by the same rule): exit code and output. */
function cli(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  const home = mkdtempSync(join(tmpdir(), 'pgwarden-tls-cli-'));
  return new Promise((done) => {
    // spawns: node patronictl (the callers below; PATRONICTL is an absolute path)
    const child = execFile(
      cmd,
      [...args],
      { timeout: 60_000, env: { ...process.env, HOME: home, PATRONICTL_CONFIG_FILE: '' } },
      (err, stdout, stderr) => {
        rmSync(home, { recursive: true, force: true });
        const code = err ? (err as { code?: unknown }).code : 0;
        done({ code: typeof code === 'number' ? code : 1, out: stdout + stderr });
      },
    );
    child.stdin?.end();
  });
}

describe('agents whose REST API requires client certificates from a private CA', () => {
  it('the REST API answers a client certificate from the CA only', async () => {
    const node = clusterOf().nodes[0]!;
    expect((await getWith(node, '/patroni', 'node')).status).toBe(200);
    expect((await getWith(node, '/patroni', 'client')).status).toBe(200);
    await expect(getWith(node, '/patroni', 'none')).rejects.toThrow();
    await expect(getWith(node, '/patroni', 'rogue')).rejects.toThrow();
  });

  it('pgwarden and the real patronictl 3.0.2 reach the members with the same files', async () => {
    const config = clusterOf().nodes[0]!.configFile;
    const answer = (out: string) => out.split('\n').filter((l) => l.includes('member node3'));
    const pgw = await cli(process.execPath, [BIN, 'reload', '-c', config, 'tls', 'node3', '--force']);
    expect(pgw, pgw.out).toMatchObject({ code: 0 });
    // The member's 202, as patronictl words it (loop_wait is 2 here).
    expect(answer(pgw.out)).toEqual([
      'Reload request received for member node3 and will be processed within 2 seconds',
    ]);
    const patronictl = await cli(PATRONICTL, ['-c', config, 'reload', 'tls', 'node3', '--force']);
    expect(answer(patronictl.out), patronictl.out).toEqual(answer(pgw.out));
  });

  it('gossip links open between the agents that run it, over wss with the client certificate', async () => {
    const cluster = clusterOf();
    for (const node of cluster.nodes.slice(0, 2)) {
      await eventually(`${node.name} linked to the other gossiping agent`, async () => {
        const connected = await metric(node, 'pgwarden_gossip_peers_connected');
        if (connected !== 1) throw new Error(`connected: ${connected}`);
      });
    }
  });

  it('etcd stopped for ttl + 8 s: node3 confirms the leader over POST /failsafe, so no demotion', async () => {
    const cluster = clusterOf();
    const leader = await leaderNode(cluster);
    expect(leader.name).not.toBe('node3');
    await eventually('/failsafe names all three', async () => {
      const doc = JSON.parse((await cluster.rest.request(`${leader.apiUrl}/failsafe`)).text);
      if (Object.keys(doc).length !== 3) throw new Error(JSON.stringify(doc));
    });
    await cluster.stopEtcd();
    const stoppedAt = Date.now();
    let writableUntil = 0;
    let active = false;
    try {
      while (Date.now() - stoppedAt < (TTL + 8) * 1000) {
        if ((await inRecovery(leader)) === false) writableUntil = Date.now() - stoppedAt;
        active ||= (await metric(leader, 'patroni_failsafe_mode_is_active').catch(() => null)) === 1;
        await sleep(500);
      }
    } finally {
      await cluster.startEtcd();
    }
    // Without node3's answer the leader demotes by its ttl (failsafe.test.ts shows it).
    expect(active).toBe(true);
    expect(writableUntil).toBeGreaterThan((TTL + 6) * 1000);
    expect(await cluster.waitUntilReady({ timeoutMs: 90_000 })).toBe(true);
    expect(await cluster.leader()).toBe(leader.name);
  });

  it('when the leader dies, the race gets every survivor’s answer: over gossip or GET /patroni', async () => {
    const cluster = clusterOf();
    const leader = await leaderNode(cluster);
    await cluster.killNode(leader.name);
    await eventually(
      'a new leader',
      async () => {
        const now = await cluster.leader();
        if (!now || now === leader.name) throw new Error(`leader ${now}`);
      },
      60_000,
    );
    const survivors = cluster.nodes.filter((n) => n !== leader).map((n) => n.name);
    const asked: Array<{ by: string; name: string; reachable: boolean; via?: string }> = [];
    for (const n of cluster.nodes.filter((x) => x !== leader)) {
      const [entries] = loadJournalFiles([n.journalFile]) as JournalEntry[][];
      for (const e of entries!) {
        const what = String(e.what);
        if (!what.startsWith('xstate.done.actor') || !what.endsWith('racing.probing.asking')) continue;
        const output = (e.event as { output?: Array<{ name: string; reachable: boolean; via?: string }> })
          .output;
        for (const p of output ?? []) if (survivors.includes(p.name)) asked.push({ by: n.name, ...p });
      }
    }
    // node2 asked node3 and node3 asked node2, both over REST (node3 runs no gossip).
    expect(
      asked.some((a) => a.via === 'rest'),
      JSON.stringify(asked),
    ).toBe(true);
    expect(
      asked.every((a) => a.reachable),
      JSON.stringify(asked),
    ).toBe(true);
    cluster.startNode(leader.name);
    expect(await cluster.waitUntilReady({ timeoutMs: 90_000 })).toBe(true);
  });
});
