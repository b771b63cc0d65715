/**
 * The client side of the benchmarks: a reconnecting writer, a writability probe of every node,
 * and one-shot SQL helpers (all as the cluster's superuser over loopback TCP).
 */
import pg from 'pg';
import { type ClusterNode, SUPERUSER } from '../../src/local/cluster.ts';
import { now, secs, sleep } from './time.ts';

export const WRITE_EVERY_MS = 20;
export const CONNECT_TIMEOUT_MS = 1000;
export const QUERY_TIMEOUT_MS = 2000;
export const SETTLE_ON_NEW_PRIMARY_MS = 3000;
export const WRITABLE_PROBE_MS = 200;

// ---------------------------------------------------------------------------------------------
// Writer: the client a multi-host `target_session_attrs=read-write` libpq string would give,
// done by hand because node-postgres does not understand multi-host strings.

export interface Ack {
  id: number;
  at: number;
  port: number;
}

export interface Writer {
  acks: Ack[];
  errors: Array<{ at: number; port: number | null; message: string }>;
  /** Port of the current connection (null while scanning). */
  port(): number | null;
  stop(): Promise<void>;
}

async function connectWritable(ports: number[]): Promise<{ client: pg.Client; port: number } | null> {
  for (const port of ports) {
    const client = new pg.Client({
      host: '127.0.0.1',
      port,
      user: SUPERUSER.username,
      password: SUPERUSER.password,
      database: 'postgres',
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      query_timeout: QUERY_TIMEOUT_MS,
    });
    client.on('error', () => {}); // a dropped socket surfaces on the next query
    try {
      await client.connect();
      const r = await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
      if (r.rows[0]?.r === false) return { client, port };
    } catch {
      // refused, timed out or not ready: next host
    }
    await client.end().catch(() => {});
  }
  return null;
}

/** Tries `ports` in order, keeps the first writable one, INSERTs one row every WRITE_EVERY_MS. */
export function startWriter(ports: number[], table: string): Writer {
  const acks: Ack[] = [];
  const errors: Writer['errors'] = [];
  let stopping = false;
  let current: { client: pg.Client; port: number } | null = null;
  let nextId = 1;

  const run = async () => {
    while (!stopping) {
      if (!current) {
        current = await connectWritable(ports);
        if (!current) await sleep(WRITE_EVERY_MS);
        continue;
      }
      const id = nextId++;
      const started = now();
      try {
        await current.client.query(`INSERT INTO ${table} (id) VALUES ($1)`, [id]);
        acks.push({ id, at: now(), port: current.port });
      } catch (err) {
        errors.push({ at: now(), port: current.port, message: (err as Error).message });
        const dropped = current.client;
        current = null;
        void dropped.end().catch(() => {});
        continue;
      }
      await sleep(Math.max(0, WRITE_EVERY_MS - (now() - started)));
    }
    await current?.client.end().catch(() => {});
  };
  const done = run();
  return {
    acks,
    errors,
    port: () => current?.port ?? null,
    stop: async () => {
      stopping = true;
      await done;
    },
  };
}

/** Waits until the writer has been acknowledged by a port other than `oldPort` for `settleMs`. */
export async function waitForNewPrimaryWrites(
  writer: Writer,
  oldPort: number,
  timeoutMs: number,
  settleMs = SETTLE_ON_NEW_PRIMARY_MS,
): Promise<boolean> {
  const deadline = now() + timeoutMs;
  while (now() < deadline) {
    const firstNew = writer.acks.find((a) => a.port !== oldPort);
    if (firstNew && now() - firstNew.at >= settleMs) return true;
    await sleep(100);
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Writability probe: the writer sticks to the first writable node it finds, so it would not see a
// second primary that stays up. This asks every given node every WRITABLE_PROBE_MS over its own
// connection (reconnecting on error) and records who was writable and when. By default it asks
// `pg_is_in_recovery()`; with `table` it INSERTs a row instead, as a client with a stale address
// would, and records each row acknowledged (a read-only node answers SQLSTATE 25006).

export interface WritableSeen {
  first: number;
  last: number;
  samples: number;
  /** Every time the node was seen writable. */
  times: number[];
}

export interface ProbeAck {
  id: number;
  at: number;
  node: string;
}

export function probeWritable(
  nodes: ClusterNode[],
  opts: { table?: string } = {},
): {
  seen: Map<string, WritableSeen>;
  acks: ProbeAck[];
  stop(): Promise<void>;
} {
  const seen = new Map<string, WritableSeen>();
  const acks: ProbeAck[] = [];
  let nextId = 1;
  let stopping = false;
  const writable = async (client: pg.Client, n: ClusterNode): Promise<boolean> => {
    if (!opts.table) {
      const r = await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
      return r.rows[0]?.r === false;
    }
    const id = nextId++;
    try {
      await client.query(`INSERT INTO ${opts.table} (id, node) VALUES ($1, $2)`, [id, n.name]);
    } catch (err) {
      if ((err as { code?: string }).code === '25006') return false; // read-only: a replica
      throw err;
    }
    acks.push({ id, at: now(), node: n.name });
    return true;
  };
  const probeOne = async (n: ClusterNode) => {
    let client: pg.Client | null = null;
    while (!stopping) {
      const started = now();
      try {
        if (!client) {
          client = new pg.Client({
            host: '127.0.0.1',
            port: n.pgPort,
            user: SUPERUSER.username,
            password: SUPERUSER.password,
            database: 'postgres',
            connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
            query_timeout: QUERY_TIMEOUT_MS,
          });
          client.on('error', () => {});
          await client.connect();
        }
        if (await writable(client, n)) {
          const at = now();
          const s = seen.get(n.name);
          if (s) {
            s.last = at;
            s.samples++;
            s.times.push(at);
          } else seen.set(n.name, { first: at, last: at, samples: 1, times: [at] });
        }
      } catch {
        const c = client;
        client = null;
        void c?.end().catch(() => {});
      }
      await sleep(Math.max(0, WRITABLE_PROBE_MS - (now() - started)));
    }
    await client?.end().catch(() => {});
  };
  const done = Promise.all(nodes.map(probeOne));
  return {
    seen,
    acks,
    stop: async () => {
      stopping = true;
      await done;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// One-shot SQL.

export async function sqlOn<T extends pg.QueryResultRow>(port: number, text: string, params: unknown[] = []) {
  const client = new pg.Client({
    host: '127.0.0.1',
    port,
    user: SUPERUSER.username,
    password: SUPERUSER.password,
    database: 'postgres',
    connectionTimeoutMillis: 3000,
    query_timeout: 10_000,
  });
  client.on('error', () => {});
  await client.connect();
  try {
    return (await client.query<T>(text, params)).rows;
  } finally {
    await client.end().catch(() => {});
  }
}

/** The ids in `ids` that `table` on `port` does not have. */
export async function missingIds(port: number, table: string, ids: number[]): Promise<number[]> {
  const rows = await sqlOn<{ id: string }>(port, `SELECT id FROM ${table} WHERE id = ANY($1::bigint[])`, [
    ids,
  ]);
  const found = new Set(rows.map((r) => Number(r.id)));
  return ids.filter((id) => !found.has(id));
}

/**
 * What the writer saw around t0 (a kill, a request), split between the old primary (its port)
 * and any new one: the counts and times every benchmark reports the same way.
 */
export function summarizeWrites(writer: Writer, oldPort: number, t0: number) {
  const rel = (t: number | undefined) => (t === undefined ? null : secs(t - t0));
  const onOld = writer.acks.filter((a) => a.port === oldPort);
  const onNew = writer.acks.filter((a) => a.port !== oldPort);
  return {
    onOld,
    onNew,
    fields: {
      ackedRows: writer.acks.length,
      ackedOnOld: onOld.length,
      ackedOnNew: onNew.length,
      writerErrors: writer.errors.length,
      firstWriterErrors: writer.errors.slice(0, 3).map((e) => `${e.port}: ${e.message}`),
      lastOldAckS: rel(onOld.at(-1)?.at),
      firstNewAckS: rel(onNew[0]?.at),
    },
  };
}
