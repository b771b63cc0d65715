/** What integration tests ask of a running LocalCluster: SQL on a node, etcd keys, bounded waits. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { runReplay } from '../../src/cli/replay-command.ts';
import {
  type ClusterNode,
  LocalCluster,
  type LocalClusterOptions,
  SUPERUSER,
} from '../../src/local/cluster.ts';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function sql<T extends pg.QueryResultRow = Record<string, unknown>>(
  node: ClusterNode,
  text: string,
  params: unknown[] = [],
  connectTimeoutMs = 3000,
): Promise<T[]> {
  const client = new pg.Client({
    host: node.host,
    port: node.pgPort,
    user: SUPERUSER.username,
    password: SUPERUSER.password,
    database: 'postgres',
    connectionTimeoutMillis: connectTimeoutMs,
  });
  // A node stopped or demoted meanwhile ends the session with a FATAL (57P01): between queries
  // that arrives as an 'error' event, which would be uncaught; the query itself fails anyway.
  client.on('error', () => {});
  await client.connect();
  try {
    return (await client.query<T>(text, params)).rows;
  } finally {
    await client.end().catch(() => {});
  }
}

/** pg_is_in_recovery(), or null when the node does not accept connections. */
export async function inRecovery(node: ClusterNode, connectTimeoutMs = 2000): Promise<boolean | null> {
  try {
    const rows = await sql<{ r: boolean }>(node, 'SELECT pg_is_in_recovery() AS r', [], connectTimeoutMs);
    return rows[0]!.r;
  } catch {
    return null;
  }
}

/** A key under /service/<scope>/ read straight from etcd's JSON gateway. */
export async function etcdValue(cluster: LocalCluster, scope: string, key: string): Promise<string | null> {
  const res = await fetch(`${cluster.etcdEndpoint}/v3/kv/range`, {
    method: 'POST',
    body: JSON.stringify({ key: Buffer.from(`/service/${scope}/${key}`).toString('base64') }),
  });
  const doc = (await res.json()) as { kvs?: Array<{ value: string }> };
  return doc.kvs?.[0] ? Buffer.from(doc.kvs[0].value, 'base64').toString() : null;
}

export async function eventually<T>(what: string, fn: () => Promise<T>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      return await fn();
    } catch (err) {
      last = err;
    }
    await sleep(250);
  }
  throw new Error(`${what}: not within ${timeoutMs} ms: ${(last as Error)?.message ?? last}`);
}

/** The tail of every agent's log on stderr: the first thing anyone debugging a red run needs. */
export function dumpLogs(cluster: LocalCluster | undefined, lines = 40): void {
  for (const n of cluster?.nodes ?? []) {
    let log = '';
    try {
      log = readFileSync(n.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      log = '(no log)';
    }
    process.stderr.write(`\n===== ${n.name} log (tail) =====\n${log}\n`);
  }
}

/** One line per node: its last role and state, and the last line of its log. */
export function whereNodesStand(cluster: LocalCluster): string {
  return cluster.nodes
    .map((n) => {
      let last = '(no log)';
      try {
        last = readFileSync(n.logFile, 'utf8').trimEnd().split('\n').at(-1) ?? '';
      } catch {}
      return `${n.name}: ${n.status?.role ?? '?'}/${n.status?.state ?? '?'}, log: ${last.slice(0, 300)}`;
    })
    .join('\n');
}

/**
 * `pgwarden replay` on each agent's journal file, once the cluster is stopped: every recorded
 * transition must happen again. Throws with the divergence (an afterAll hook that throws fails
 * the file); the summaries go to stderr.
 */
export function replayJournals(cluster: LocalCluster): void {
  const failures: string[] = [];
  for (const n of cluster.nodes) {
    const lines: string[] = [];
    const code = runReplay([n.journalFile], {}, (t) => lines.push(t));
    process.stderr.write(`replay ${n.name}: ${lines.join('\n')}\n`);
    if (code !== 0) failures.push(`${n.name}:\n${lines.join('\n')}`);
  }
  if (failures.length > 0) throw new Error(`journals that do not replay:\n${failures.join('\n')}`);
}

/**
 * One LocalCluster per test file: started before the tests (ready or the file fails), agent logs
 * printed if any test failed, stopped and removed after. Returns a getter for the cluster.
 */
export function useLocalCluster(
  options: Omit<LocalClusterOptions, 'dir'>,
  hooks: {
    beforeAll: (fn: () => Promise<void>) => void;
    afterAll: (fn: () => Promise<void>) => void;
    afterEach: (fn: (ctx: { task: { result?: { state?: string } } }) => void) => void;
  },
  waitReady = true,
): () => LocalCluster {
  let cluster: LocalCluster | undefined;
  let dir: string | undefined;
  let failed = false;
  hooks.beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), `pgwarden-${options.scope ?? 'it'}-`));
    cluster = new LocalCluster({ ...options, dir });
    await cluster.init();
    await cluster.startAll();
    if (waitReady && !(await cluster.waitUntilReady({ timeoutMs: 60_000 }))) {
      dumpLogs(cluster);
      // The logs above may be cut from what CI keeps: the error itself says where each node stood.
      throw new Error(`the cluster did not become ready within 60 s:\n${whereNodesStand(cluster)}`);
    }
  });
  hooks.afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') failed = true;
  });
  hooks.afterAll(async () => {
    if (failed) dumpLogs(cluster);
    await cluster?.stop();
    try {
      // Every decision the agents took here must replay on the machines as they are.
      if (cluster && options.journal) replayJournals(cluster);
    } finally {
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  });
  return () => {
    if (!cluster) throw new Error('the cluster is not started yet');
    return cluster;
  };
}

/**
 * A client with `node`'s own address (not the leader's) running `statement` every `everyMs` until
 * stopped, reconnecting after any error: when each was acknowledged (ms, as this process received
 * the answer), and how many failed. A statement that returns a column `server_ms` (the server's
 * clock_timestamp() in epoch ms) also tells when the server ran it (`ranAt`): an answer received
 * after some moment may have been sent before it, a statement the server ran after it was not.
 */
export function writingTo(node: ClusterNode, statement: string, everyMs: number) {
  let stop = false;
  const acks: number[] = [];
  const ranAt: number[] = [];
  let failed = 0;
  const done = (async () => {
    let client: pg.Client | null = null;
    while (!stop) {
      try {
        if (!client) {
          client = new pg.Client({
            host: node.host,
            port: node.pgPort,
            user: SUPERUSER.username,
            password: SUPERUSER.password,
            database: 'postgres',
            connectionTimeoutMillis: 1000,
            query_timeout: 1000,
          });
          client.on('error', () => {});
          await client.connect();
        }
        const res = await client.query<{ server_ms?: number }>(statement);
        acks.push(Date.now());
        const at = res.rows[0]?.server_ms;
        if (typeof at === 'number') ranAt.push(at);
      } catch {
        failed++;
        await client?.end().catch(() => {});
        client = null;
      }
      await sleep(everyMs);
    }
    await client?.end().catch(() => {});
  })();
  return {
    acks,
    ranAt,
    async stop(): Promise<{ acks: number[]; failed: number }> {
      stop = true;
      await done;
      return { acks, failed };
    },
  };
}

/** The node that holds the leader key, waited for (up to 20 s). */
export async function leaderNode(cluster: LocalCluster): Promise<ClusterNode> {
  const name = await eventually('a leader', async () => {
    const l = await cluster.leader();
    if (!l) throw new Error('no leader');
    return l;
  });
  return cluster.node(name);
}
