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
import path from 'node:path';
import pg from 'pg';
import { parseLsn } from '../../cluster/lsn.ts';
import {
  FENCE_BUDGET_MS,
  FENCE_CONNECT_MS,
  type FenceOutcome,
  type FenceTarget,
} from '../../cluster/orphans.ts';
import type { RoleCredentials } from '../../config/types.ts';
import type { OwnedFiles } from './files.ts';

/** In the fenced server's data directory: its presence means postgresql.auto.conf holds our fence. */
export const FENCE_MARKER = 'pgwarden.fenced';
const FENCED_SETTING = 'default_transaction_read_only';

/** Client sessions other than ours, ended; each waited for up to 1 s (PostgreSQL 14 and later). */
const END_CLIENT_SESSIONS = `
  SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 1000))::int AS n
    FROM pg_stat_activity
   WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`;

/** Fences `target`, a member's PostgreSQL, on behalf of the new leader `by`. */
export async function fencePostgres(
  target: FenceTarget,
  maxTimeline: number,
  superuser: RoleCredentials,
  by: string,
): Promise<FenceOutcome> {
  const client = new pg.Client({
    host: target.host,
    port: target.port,
    user: superuser.username,
    password: superuser.password,
    database: 'postgres',
    application_name: 'pgwarden fence',
    connectionTimeoutMillis: FENCE_CONNECT_MS,
    query_timeout: FENCE_BUDGET_MS - FENCE_CONNECT_MS,
  });
  // The server going away mid-session is an 'error' event outside any query; unheard, it would end the agent.
  client.on('error', () => {});
  await client.connect();
  try {
    const state = await client.query<{ r: boolean; ro: string; tli: number | null }>(
      `SELECT pg_is_in_recovery() AS r, current_setting('default_transaction_read_only') AS ro,
              CASE WHEN pg_is_in_recovery() THEN NULL
                ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END AS tli`,
    );
    if (state.rows[0]?.r !== false) return { fenced: false, reason: 'in recovery' };
    const tli = state.rows[0].tli ?? 0;
    if (tli > maxTimeline) return { fenced: false, reason: `a primary on a newer timeline (${tli})` };
    // Fenced already (by an earlier round, or read-only by its operator): nothing more to do.
    if (state.rows[0]?.ro === 'on') return { fenced: false, reason: 'read-only already' };
    // Fenced once already, this session itself would begin read-only.
    await client.query('SET default_transaction_read_only = off');
    const note = `fenced by ${by}, the new leader, as the orphan primary of former leader ${target.name}`;
    const marker = client.escapeLiteral(`${await dataDirectory(client)}/${FENCE_MARKER}`);
    await client.query(`COPY (SELECT ${client.escapeLiteral(note)}) TO ${marker}`);
    await client.query(`ALTER SYSTEM SET ${FENCED_SETTING} = on`);
    await client.query('SELECT pg_reload_conf()');
    let terminated = (await client.query<{ n: number }>(END_CLIENT_SESSIONS)).rows[0]?.n ?? 0;
    // A session that was starting while the postmaster reloaded may have the old setting and have
    // been missed by the first pass: a second pass ends it.
    terminated += (await client.query<{ n: number }>(END_CLIENT_SESSIONS)).rows[0]?.n ?? 0;
    const lsn = await client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    return { fenced: true, terminated, lsn: parseLsn(lsn.rows[0]!.lsn) };
  } finally {
    await client.end().catch(() => {});
  }
}

async function dataDirectory(client: pg.Client): Promise<string> {
  const res = await client.query<{ d: string }>(`SELECT current_setting('data_directory') AS d`);
  return res.rows[0]!.d;
}

/**
 * Before a start: a fence put on this data directory (the marker is there) is lifted — its
 * setting taken out of postgresql.auto.conf and the marker removed. Answers what the marker said
 * (null: not fenced).
 */
export async function liftFence(files: OwnedFiles, dir: string): Promise<string | null> {
  const marker = path.join(dir, FENCE_MARKER);
  let note: string;
  try {
    note = (await fs.readFile(marker, 'utf8')).trim();
  } catch {
    return null;
  }
  const auto = path.join(dir, 'postgresql.auto.conf');
  const text = await fs.readFile(auto, 'utf8').catch(() => null);
  if (text !== null) {
    const kept = text.split('\n').filter((line) => !new RegExp(`^\\s*${FENCED_SETTING}\\s*=`).test(line));
    await files.write(auto, kept.join('\n'), 0o600);
  }
  await fs.rm(marker, { force: true });
  return note;
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
