/**
 * The chaos run's set workload (Jepsen's "set" test): clients INSERT unique ids for the whole run,
 * every attempt is recorded with what the client can honestly say about it, and at the end the
 * ids read back from the final leader are compared with the acknowledged ones (checker.ts).
 *
 * Two groups of clients:
 * - `multi`: what a libpq multi-host string with `target_session_attrs=read-write` gives an
 *   application — try the nodes in order, keep the first writable one, scan again on any error.
 *   node-postgres does not understand multi-host strings, so the scan is done by hand (as in
 *   bench/lib/writer.ts). Client k starts its scan at node k, so that when two nodes both claim
 *   to be primary, different clients can end up on different ones and the checker can see it.
 * - `direct`: one client pinned to each node, as an application with a stale address would be.
 *   It writes there whatever the node's role; on a replica its attempts fail with 25006. It is
 *   the client that catches an old primary still accepting writes.
 *
 * The outcome of an attempt is 'fail' only when PostgreSQL certainly did not commit it; the rule
 * and its reasons are in outcome.ts. An attempt's `start` is taken just before the INSERT is
 * sent (a scan or connect before it is not part of it), so an ack's [start, end] brackets its
 * commit as tightly as the client can; an attempt without a connection spans its failed scan.
 *
 * Every wait is bounded (connect, query, pacing), so stop() returns within a few seconds even
 * when nodes are frozen or partitioned away.
 */
import pg from 'pg';
import { classifyError, LOCAL_ONLY, shortError, timelineOf } from './outcome.ts';
import type { Attempt } from './types.ts';

export interface PgNode {
  name: string;
  host: string;
  port: number;
}

/** How to reach the workload's table (the cluster's superuser in the benchmarks). */
export interface TableAccess {
  user: string;
  password: string;
  /** A plain identifier: it is written into the SQL text. */
  table: string;
  database?: string;
}

export interface WorkloadOptions extends TableAccess {
  nodes: PgNode[];
  /** Milliseconds since the run's start (the run's monotonic clock). */
  clock: () => number;
  multiClients?: number;
  writeEveryMs?: number;
  connectTimeoutMs?: number;
  queryTimeoutMs?: number;
}

export interface Workload {
  /** Every finished attempt, in the order they finished. */
  attempts: Attempt[];
  /** Ends every client and connection; an attempt still in flight is recorded as 'unknown'. */
  stop(): Promise<void>;
}

const CONNECT_TIMEOUT_MS = 1000;
const QUERY_TIMEOUT_MS = 2000;
/** Server-side limit a bit under the client's, so PostgreSQL cancels the statement first. */
const STATEMENT_TIMEOUT_SLACK_MS = 500;
/** How long stop() lets clients finish their attempt before it cuts their sockets. */
const STOP_GRACE_MS = 3000;
/** How long a polite close may take before the socket is destroyed (a frozen peer never answers). */
const CLOSE_GRACE_MS = 500;

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

function checkTable(table: string): string {
  if (!IDENTIFIER.test(table)) throw new Error(`table name must be a plain identifier: ${table}`);
  return table;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Whether `p` settled within `ms`; the timer is cleared, so it holds nothing open afterwards. */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((r) => {
    timer = setTimeout(() => r(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true as const), expired]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// Connections.

interface Conn {
  node: PgNode;
  client: pg.Client;
  /** Set when the socket died while idle: the next INSERT is not sent (and is a certain fail). */
  broken: string | null;
  /** PostgreSQL's warning that a commit is local only, seen during the current statement. */
  localOnly: boolean;
}

interface ClientSettings {
  access: TableAccess;
  connectTimeoutMs: number;
  queryTimeoutMs: number;
}

function newClient(
  node: PgNode,
  access: TableAccess,
  name: string,
  connectMs: number,
  queryMs: number,
  statementMs: number,
): pg.Client {
  return new pg.Client({
    host: node.host,
    port: node.port,
    user: access.user,
    password: access.password,
    database: access.database ?? 'postgres',
    application_name: name,
    connectionTimeoutMillis: connectMs,
    query_timeout: queryMs,
    statement_timeout: statementMs,
  });
}

async function open(node: PgNode, name: string, s: ClientSettings): Promise<Conn> {
  const statementMs = Math.max(100, s.queryTimeoutMs - STATEMENT_TIMEOUT_SLACK_MS);
  const client = newClient(node, s.access, name, s.connectTimeoutMs, s.queryTimeoutMs, statementMs);
  const conn: Conn = { node, client, broken: null, localOnly: false };
  client.on('error', (err) => {
    conn.broken ??= shortError(err);
  });
  client.on('end', () => {
    conn.broken ??= 'connection closed';
  });
  client.on('notice', (n) => {
    if (/synchronous replication/.test(n.message ?? '')) conn.localOnly = true;
  });
  try {
    await client.connect();
  } catch (err) {
    await close(client);
    throw err;
  }
  return conn;
}

/**
 * Closes without waiting on the peer for long: pg's end() waits for the server's side of the
 * close, which a frozen or partitioned node never sends, so after CLOSE_GRACE_MS the socket is
 * destroyed through pg's (untyped) connection.
 */
async function close(client: pg.Client): Promise<void> {
  if (
    await within(
      client.end().catch(() => {}),
      CLOSE_GRACE_MS,
    )
  )
    return;
  (
    client as unknown as { connection?: { stream?: { destroy?: () => void } } }
  ).connection?.stream?.destroy?.();
}

// ---------------------------------------------------------------------------------------------
// The workload.

interface ClientState {
  name: string;
  group: Attempt['group'];
  conn: Conn | null;
  inFlight: Attempt | null;
  /** stop() gave up waiting and recorded the in-flight attempt itself. */
  abandoned: boolean;
}

export function startWorkload(opts: WorkloadOptions): Workload {
  const table = checkTable(opts.table);
  const settings: ClientSettings = {
    access: opts,
    connectTimeoutMs: opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
    queryTimeoutMs: opts.queryTimeoutMs ?? QUERY_TIMEOUT_MS,
  };
  const { clock, nodes } = opts;
  const writeEveryMs = opts.writeEveryMs ?? 50;
  const insert = `INSERT INTO ${table} (id, client) VALUES ($1, $2) RETURNING pg_walfile_name(pg_current_wal_lsn()) AS wal`;
  const attempts: Attempt[] = [];
  let nextId = 1; // one counter for every client: ids are unique across the run
  let stopping = false;

  const record = (c: ClientState, a: Attempt) => {
    c.inFlight = null;
    if (!c.abandoned) attempts.push(a);
  };

  /** Waits out the rest of the client's tick (one attempt per writeEveryMs at most). */
  const pace = (tickStart: number) => sleep(Math.max(0, writeEveryMs - (clock() - tickStart)));

  /** One INSERT on an open connection. Returns whether the connection may be kept. */
  const attemptOn = async (c: ClientState, conn: Conn): Promise<boolean> => {
    const a: Attempt = {
      id: nextId++,
      client: c.name,
      group: c.group,
      node: conn.node.name,
      start: clock(),
      end: 0,
      outcome: 'unknown',
    };
    c.inFlight = a;
    if (conn.broken !== null) {
      // The socket died while idle (e.g. 57P01 on a shutdown): the INSERT is never written.
      record(c, { ...a, end: clock(), outcome: 'fail', error: conn.broken });
      return false;
    }
    conn.localOnly = false;
    try {
      const r = await conn.client.query<{ wal: string }>(insert, [a.id, c.name]);
      const timeline = timelineOf(r.rows[0]?.wal);
      const done: Attempt = { ...a, end: clock(), outcome: 'ok' };
      if (timeline !== undefined) done.timeline = timeline;
      if (conn.localOnly) done.error = LOCAL_ONLY;
      record(c, done);
      return true;
    } catch (err) {
      const { outcome, error } = classifyError(err);
      record(c, { ...a, end: clock(), outcome, error });
      // A direct client keeps a session that answered a clean ERROR (a replica's 25006): the
      // session is fine, and reconnecting 20 times a second would only load the replica.
      return c.group === 'direct' && outcome === 'fail' && err instanceof pg.DatabaseError;
    }
  };

  /** The first writable node in `order` (a multi client's connect), or why there is none. */
  const scan = async (c: ClientState, order: PgNode[]): Promise<Conn | string> => {
    const why: string[] = [];
    for (const node of order) {
      if (stopping) break;
      let conn: Conn | null = null;
      try {
        conn = await open(node, c.name, settings);
        const r = await conn.client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
        if (r.rows[0]?.r === false && conn.broken === null) return conn;
        why.push(`${node.name}: replica`);
      } catch (err) {
        why.push(`${node.name}: ${shortError(err)}`);
      }
      if (conn) await close(conn.client);
    }
    return `no writable node (${why.join(', ') || 'stopped'})`;
  };

  /** A direct client's connect: its one node, whatever its role. */
  const pinned = (c: ClientState, node: PgNode) => open(node, c.name, settings).catch(shortError);

  /** One client: an attempt per tick, connecting (or scanning) first when it has no connection. */
  const run = async (c: ClientState, connect: () => Promise<Conn | string>) => {
    while (!stopping) {
      const tickStart = clock();
      if (!c.conn) {
        const got = await connect();
        if (typeof got === 'string') {
          if (stopping) break; // a scan cut short by stop() is not an attempt
          // No connection: an attempt that certainly did not commit (node null, as types.ts says).
          const a: Attempt = {
            id: nextId++,
            client: c.name,
            group: c.group,
            node: null,
            start: tickStart,
            end: 0,
            outcome: 'fail',
          };
          record(c, { ...a, end: clock(), error: got });
          await pace(tickStart);
          continue;
        }
        c.conn = got;
      }
      // A multi client drops the connection on any error and scans again, as libpq would.
      if (!(await attemptOn(c, c.conn))) await dropConn(c);
      await pace(tickStart);
    }
    await dropConn(c);
  };

  const dropConn = async (c: ClientState) => {
    const conn = c.conn;
    c.conn = null;
    if (conn) await close(conn.client);
  };

  const clients: ClientState[] = [];
  const loops: Array<Promise<void>> = [];
  const start = (
    name: string,
    group: Attempt['group'],
    connect: (c: ClientState) => Promise<Conn | string>,
  ) => {
    const c: ClientState = { name, group, conn: null, inFlight: null, abandoned: false };
    clients.push(c);
    loops.push(run(c, () => connect(c)));
  };
  for (let k = 0; k < (opts.multiClients ?? 2); k++) {
    const order = nodes.map((_, i) => nodes[(i + k) % nodes.length]!);
    start(`multi-${k + 1}`, 'multi', (c) => scan(c, order));
  }
  for (const node of nodes) start(`direct-${node.name}`, 'direct', (c) => pinned(c, node));
  const all = Promise.all(loops);

  return {
    attempts,
    stop: async () => {
      stopping = true;
      if (await within(all, STOP_GRACE_MS)) return;
      // Some client is stuck on a peer that does not answer: record its attempt as not known,
      // then cut every socket so its loop ends too.
      for (const c of clients) {
        if (c.inFlight)
          attempts.push({ ...c.inFlight, end: clock(), outcome: 'unknown', error: 'in flight at stop' });
        c.abandoned = true;
        c.inFlight = null;
      }
      await Promise.all(clients.map((c) => (c.conn ? close(c.conn.client) : undefined)));
      await within(all, STOP_GRACE_MS);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// One-shot helpers for the driver.

async function oneShot<T extends pg.QueryResultRow>(
  node: PgNode,
  access: TableAccess,
  text: string,
  timeoutMs: number,
): Promise<T[]> {
  const client = newClient(node, access, 'chaos-driver', Math.min(timeoutMs, 3000), timeoutMs, timeoutMs);
  client.on('error', () => {}); // surfaces as the query's rejection
  try {
    await client.connect();
    return (await client.query<T>(text)).rows;
  } finally {
    await close(client);
  }
}

/** A fresh, empty table for the set (dropped first if a previous run left one). */
export async function createTable(node: PgNode, access: TableAccess, timeoutMs = 10_000): Promise<void> {
  const t = checkTable(access.table);
  await oneShot(
    node,
    access,
    `DROP TABLE IF EXISTS ${t}; CREATE TABLE ${t} (id bigint PRIMARY KEY, client text NOT NULL)`,
    timeoutMs,
  );
}

/** Every id in the table on `node`, ascending. Throws when the node does not answer in time. */
export async function readAll(node: PgNode, access: TableAccess, timeoutMs = 10_000): Promise<number[]> {
  const t = checkTable(access.table);
  const rows = await oneShot<{ id: string }>(node, access, `SELECT id FROM ${t} ORDER BY id`, timeoutMs);
  return rows.map((r) => Number(r.id));
}
