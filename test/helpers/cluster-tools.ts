/** What integration tests ask of a running LocalCluster: SQL on a node, etcd keys, bounded waits. */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { type ClusterNode, type LocalCluster, SUPERUSER } from '../../src/local/cluster.ts';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function sql<T extends pg.QueryResultRow = Record<string, unknown>>(
  node: ClusterNode,
  text: string,
  params: unknown[] = [],
  connectTimeoutMs = 3000,
): Promise<T[]> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port: node.pgPort,
    user: SUPERUSER.username,
    password: SUPERUSER.password,
    database: 'postgres',
    connectionTimeoutMillis: connectTimeoutMs,
  });
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
