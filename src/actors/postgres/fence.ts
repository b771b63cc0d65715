/**
 * Both sides of the fence (see src/cluster/orphans.ts), and the address book it is aimed with.
 *
 * Fencing another member's PostgreSQL: as the superuser, over TCP, within a bounded time. A
 * server in recovery is left alone. On a writable one: a marker file in its data directory (what
 * was fenced, by whom), `ALTER SYSTEM SET default_transaction_read_only = on` and a reload (every
 * transaction that begins from then on is read-only), then every client session ends, each waited
 * for, so that none that began before can commit afterwards.
 *
 * Why ALTER SYSTEM and not a catalog setting (ALTER ROLE ALL SET): the fence must not be written
 * to WAL. The node fencing it is still a standby of that very server, as are the other replicas:
 * a WAL-logged fence would reach them, make the new primary read-only, and fork every replica's
 * history. postgresql.auto.conf is not replicated; the marker tells pgwarden on that host to lift
 * the fence (liftFence) the next time it configures the data directory for a start, so that a
 * node fenced once never comes back read-only as a later primary — and an operator's own
 * ALTER SYSTEM of the same setting is never touched.
 */
import { promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { parseLsn } from '../../cluster/lsn.ts';
import {
  FENCE_HANDSHAKE_MS,
  FENCE_STATEMENTS_MS,
  type FenceOutcome,
  type FenceRule,
  type FenceTarget,
  fenceBudgetMs,
} from '../../cluster/orphans.ts';
import type { RoleCredentials } from '../../config/types.ts';
import { type TlsAttempt, tlsAttempts } from './client-tls.ts';
import { MANAGED_HEADER } from './conf.ts';
import type { OwnedFiles } from './files.ts';

/** In the fenced server's data directory: its presence means postgresql.auto.conf holds our fence. */
export const FENCE_MARKER = 'pgwarden.fenced';
export const FENCED_SETTING = 'default_transaction_read_only';

/** Client sessions other than ours (`AND …`: only those), ended; each waited for up to 1 s (PostgreSQL 14 and later). */
const endClientSessions = (and = '') => `
  SELECT count(*) FILTER (WHERE pg_catalog.pg_terminate_backend(pid, 1000))::int AS n
    FROM pg_catalog.pg_stat_activity
   WHERE backend_type = 'client backend' AND pid <> pg_catalog.pg_backend_pid() ${and}`;

/** What the fence reads first: whether and what to fence. */
const STATE_SQL = `
  SELECT pg_catalog.pg_is_in_recovery() AS r,
         pg_catalog.current_setting('default_transaction_read_only') AS ro,
         (pg_catalog.pg_control_system()).system_identifier::text AS sysid,
         pg_catalog.current_setting('data_directory') AS dir,
         pg_catalog.pg_read_file(pg_catalog.current_setting('config_file'), 0, 200) AS conf,
         CASE WHEN pg_catalog.pg_is_in_recovery() THEN NULL
           ELSE ('x' || pg_catalog.substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8))::bit(32)::int
         END AS tli`;

interface StateRow {
  r: boolean;
  ro: string;
  sysid: string;
  dir: string;
  conf: string;
  tli: number | null;
}

/**
 * Fences `target`, a member's PostgreSQL, on behalf of the new leader `by`, if `rule` allows it.
 * Bounded by fenceBudgetMs(rule) as a whole: past it the connection is torn down and the round says
 * the server was not reached (statements stop on the server too: statement_timeout). The
 * superuser's libpq TLS options are honoured as libpq does (client-tls.ts): with `prefer`, the
 * default, a server that answered but gave no session over TLS is tried once more without, within
 * the same budget.
 */
export async function fencePostgres(
  target: FenceTarget,
  rule: FenceRule,
  superuser: RoleCredentials,
  by: string,
): Promise<FenceOutcome> {
  const started = Date.now();
  const attempts = tlsAttempts(superuser);
  for (let i = 0; ; i++) {
    const spent = Date.now() - started;
    const attempt = {
      ssl: attempts[i]!,
      sessionWaitMs: rule.sessionWaitMs - spent,
      budgetMs: fenceBudgetMs(rule) - spent,
    };
    try {
      return await fenceOnce(target, rule, superuser, by, attempt);
    } catch (err) {
      const again = err instanceof NoSession && err.answered && i + 1 < attempts.length;
      if (!again || Date.now() - started >= rule.sessionWaitMs)
        throw err instanceof NoSession ? err.cause : err;
    }
  }
}

/** The server answered the TCP handshake (or not) but no session was opened: another TLS mode may do. */
class NoSession extends Error {
  constructor(
    readonly answered: boolean,
    override readonly cause: unknown,
  ) {
    super((cause as Error)?.message ?? String(cause));
  }
}

async function fenceOnce(
  target: FenceTarget,
  rule: FenceRule,
  superuser: RoleCredentials,
  by: string,
  attempt: { ssl: TlsAttempt; sessionWaitMs: number; budgetMs: number },
): Promise<FenceOutcome> {
  // A socket of our own, so that a host that never answers the TCP handshake is given up on
  // sooner than one that answers and is slow to start a session.
  const socket = new net.Socket();
  let answered = false;
  const handshake = setTimeout(
    () => socket.destroy(new Error(`no TCP answer within ${FENCE_HANDSHAKE_MS} ms`)),
    FENCE_HANDSHAKE_MS,
  );
  socket.once('connect', () => {
    answered = true;
    clearTimeout(handshake);
  });
  socket.once('close', () => clearTimeout(handshake));
  const client = new pg.Client({
    stream: () => socket,
    host: target.host,
    port: target.port,
    user: superuser.username,
    password: superuser.password,
    database: 'postgres',
    application_name: 'pgwarden fence',
    ssl: attempt.ssl,
    // Counted from the start, handshake included: the session wait is the rule's.
    connectionTimeoutMillis: Math.max(1, attempt.sessionWaitMs),
    options: `-c statement_timeout=${FENCE_STATEMENTS_MS}`,
  });
  // The server going away mid-session is an 'error' event outside any query; unheard, it would end the agent.
  client.on('error', () => {});
  let timer: NodeJS.Timeout | undefined;
  const budget = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${attempt.budgetMs} ms`)),
      Math.max(1, attempt.budgetMs),
    );
  });
  try {
    const session = client.connect().catch((err: unknown) => {
      throw new NoSession(answered, err);
    });
    return await Promise.race([session.then(() => fenceOver(client, target, rule, by)), budget]);
  } finally {
    clearTimeout(timer);
    clearTimeout(handshake);
    // Torn down, not ended: a graceful end waits for the peer, which may never answer.
    (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    socket.destroy();
  }
}

async function fenceOver(
  client: pg.Client,
  target: FenceTarget,
  rule: FenceRule,
  by: string,
): Promise<FenceOutcome> {
  const state = (await client.query<StateRow>(STATE_SQL)).rows[0]!;
  if (state.r !== false) return { fenced: false, reason: 'in recovery' };
  if (rule.systemIdentifier !== null && state.sysid !== rule.systemIdentifier)
    return { fenced: false, reason: `another cluster (system identifier ${state.sysid})` };
  // A server another agent runs (a Patroni member of a mixed cluster) would keep the setting and
  // could later be promoted read-only: it is that agent's to demote.
  if (!state.conf.startsWith(MANAGED_HEADER)) return { fenced: false, reason: 'not managed by pgwarden' };
  const tli = state.tli ?? 0;
  if (rule.belowTimeline !== null && tli >= rule.belowTimeline)
    return { fenced: false, reason: `a primary on timeline ${tli}, not behind ours` };
  if (state.ro === 'on') {
    // Fenced already (an earlier round, perhaps cut short): a transaction still writing is ended.
    await client.query(endClientSessions('AND backend_xid IS NOT NULL'));
    return { fenced: false, reason: 'read-only already' };
  }
  // Fenced once before and lifted, this session might begin read-only: it writes no data anyway.
  await client.query('SET default_transaction_read_only = off');
  const note = `fenced by ${by}, the new leader, as the orphan primary of ${target.name}`;
  await client.query(
    `COPY (SELECT ${client.escapeLiteral(note)}) TO ${client.escapeLiteral(`${state.dir}/${FENCE_MARKER}`)}`,
  );
  await client.query(`ALTER SYSTEM SET ${FENCED_SETTING} = on`);
  await client.query('SELECT pg_catalog.pg_reload_conf()');
  let terminated = (await client.query<{ n: number }>(endClientSessions())).rows[0]?.n ?? 0;
  // A session that was starting while the postmaster reloaded may have the old setting and have
  // been missed by the first pass: a second pass ends it.
  terminated += (await client.query<{ n: number }>(endClientSessions())).rows[0]?.n ?? 0;
  const lsn = await client.query<{ lsn: string }>('SELECT pg_catalog.pg_current_wal_lsn()::text AS lsn');
  return { fenced: true, terminated, lsn: parseLsn(lsn.rows[0]!.lsn) };
}

/**
 * Before a start: a fence put on this data directory (the marker is there) is lifted — its
 * setting taken out of postgresql.auto.conf and the marker removed. Answers what the marker said
 * (null: not fenced).
 */
export async function liftFence(files: OwnedFiles, dir: string): Promise<string | null> {
  const note = await readFenceMarker(dir);
  if (note === null) return null;
  const auto = path.join(dir, 'postgresql.auto.conf');
  const text = await fs.readFile(auto, 'utf8').catch(() => null);
  if (text !== null) {
    const kept = text.split('\n').filter((line) => !new RegExp(`^\\s*${FENCED_SETTING}\\s*=`).test(line));
    // Replaced at once (a temporary file renamed over it): the operator's other settings are in it.
    const tmp = `${auto}.${process.pid}.tmp`;
    await files.write(tmp, kept.join('\n'), 0o600);
    await fs.rename(tmp, auto);
  }
  await fs.rm(path.join(dir, FENCE_MARKER), { force: true });
  return note;
}

/** What the marker in `dir` says (null: no fence there). A marker that cannot be read still counts. */
export async function readFenceMarker(dir: string): Promise<string | null> {
  try {
    return (await fs.readFile(path.join(dir, FENCE_MARKER), 'utf8')).trim() || 'fenced';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? null : 'fenced (the marker could not be read)';
  }
}

/** The address book in the data directory (see knownServersOf): who this node knew of, as JSON. */
export const ADDRESS_BOOK_FILE = 'pgwarden.servers.json';

/** The book as it was written (unchecked: readAddressBook checks it), or null. */
export async function readAddressBookFile(dir: string): Promise<unknown> {
  try {
    return JSON.parse(await fs.readFile(path.join(dir, ADDRESS_BOOK_FILE), 'utf8'));
  } catch {
    return null;
  }
}

/**
 * Replaces the book at once (a temporary file renamed over it), into an initialized data
 * directory only (initdb and pg_basebackup need an empty one): false when there is none yet.
 */
export async function writeAddressBookFile(
  dir: string,
  book: readonly FenceTarget[],
  files: OwnedFiles,
): Promise<boolean> {
  try {
    await fs.access(path.join(dir, 'PG_VERSION'));
  } catch {
    return false;
  }
  const tmp = path.join(dir, `${ADDRESS_BOOK_FILE}.${process.pid}.tmp`);
  await files.write(tmp, JSON.stringify(book), 0o600);
  await fs.rename(tmp, path.join(dir, ADDRESS_BOOK_FILE));
  return true;
}
