/**
 * What a client of the set workload can honestly say about an INSERT that did not return its row
 * (workload.ts records it, checker.ts trusts it).
 *
 * 'fail' only when PostgreSQL certainly did not commit: the INSERT was never sent (no connection,
 * or pg refused to write it on a connection known dead), or the server answered it with an ERROR
 * whose SQLSTATE is raised before the commit point. Everything else after sending is 'unknown': a
 * FATAL (57P01 admin_shutdown included — a backend can be terminated after its commit record is
 * flushed but before ReadyForQuery; one killed while waiting for a synchronous standby commits
 * locally and closes the socket without a word), a timeout, a lost connection. A wrong 'fail'
 * would make the checker blind to a write that did commit; a wrong 'unknown' only weakens the test.
 */

/** `error` of an ack PostgreSQL warned was committed locally only (a cancelled synchronous wait). */
export const LOCAL_ONLY = 'warning: committed locally, sync wait cancelled';

/**
 * SQLSTATE classes that, as an ERROR answering a single autocommit INSERT, mean the statement's
 * transaction rolled back: raised while parsing, planning or executing it, before the commit point.
 * 25006 read_only_sql_transaction (a replica) is the one the runs meet. Not here: 57 (operator
 * intervention, incl. 57014 query_canceled — a pending cancel can be served after the commit), 08,
 * 53, 58, XX, and any FATAL/PANIC.
 */
const ROLLED_BACK_CLASSES = new Set(['0A', '22', '23', '25', '40', '42', '44']);
/** 40003: PostgreSQL itself does not know. */
const STATEMENT_COMPLETION_UNKNOWN = '40003';

/** pg's own errors for a query it refused to write to the socket. */
const NOT_SENT = /not queryable/;

/** SQLSTATE, errno code, or the start of the message: what `Attempt.error` holds. */
export function shortError(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  if (typeof e?.code === 'string' && e.code !== '') return e.code;
  const msg = typeof e?.message === 'string' ? e.message : String(err);
  return msg.length > 60 ? `${msg.slice(0, 57)}...` : msg;
}

/** What the error of an INSERT handed to pg says about it (a known-dead connection is the caller's 'fail'). */
export function classifyError(err: unknown): { outcome: 'fail' | 'unknown'; error: string } {
  const error = shortError(err);
  if (err instanceof Error && NOT_SENT.test(err.message)) return { outcome: 'fail', error };
  // A server's answer carries a severity (pg's DatabaseError); socket errors carry only an errno code.
  const e = err as { severity?: unknown; code?: unknown };
  if (e.severity === 'ERROR' && typeof e.code === 'string' && e.code !== STATEMENT_COMPLETION_UNKNOWN) {
    if (ROLLED_BACK_CLASSES.has(e.code.slice(0, 2))) return { outcome: 'fail', error };
  }
  return { outcome: 'unknown', error };
}

/** The writer's timeline from pg_walfile_name(): its first 8 hex digits. */
export function timelineOf(walFile: unknown): number | undefined {
  if (typeof walFile !== 'string' || walFile.length < 24) return undefined;
  const tl = Number.parseInt(walFile.slice(0, 8), 16);
  return Number.isFinite(tl) && tl > 0 ? tl : undefined;
}
