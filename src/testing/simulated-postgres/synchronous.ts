/**
 * Synchronous replication as PostgreSQL decides it: how synchronous_standby_names reads, which
 * walsenders pg_stat_replication then calls `sync`, `potential` or `quorum`, and so when a
 * waiting commit is released. One place for these rules, because the agent's choice of /sync
 * and the acknowledged-write invariants are only as true as this reading.
 */
import type { WalSender } from '../../actors/postgres.ts';
import type { WalSenderEntry } from './walsenders.ts';

/** synchronous_standby_names, parsed: FIRST/ANY num (names); null when empty. */
export interface SyncNames {
  method: 'first' | 'any';
  num: number;
  names: string[];
}

export function parseSynchronousStandbyNames(text: string): SyncNames | null {
  const s = text.trim();
  if (s === '') return null;
  const m = /^(?:(first|any)\s+)?(\d+)\s*\((.*)\)$/i.exec(s);
  const method = (m?.[1]?.toLowerCase() ?? 'first') as 'first' | 'any';
  const num = m ? Number(m[2]) : 1;
  const list = m ? m[3]! : s;
  const names = list
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '')
    .map((n) => (n.startsWith('"') && n.endsWith('"') ? n.slice(1, -1) : n.toLowerCase()));
  return { method, num, names };
}

/**
 * pg_stat_replication of a server from its walsenders, ghosts included, in walsender order;
 * `lsn` is the confirmed flush. `onPrimary`: a cascading walsender (on a standby) has priority 0;
 * `writable`: only a primary accepting writes has synchronous standbys.
 */
export function walSenderRows(
  entries: readonly WalSenderEntry[],
  sync: SyncNames | null,
  onPrimary: boolean,
  writable: boolean,
): Array<WalSender & { lsn: number }> {
  const rows = entries.map((e) => {
    const app = e.applicationName;
    let priority = 0;
    // PostgreSQL matches names case-insensitively, quoted or not, and a cascading walsender
    // (on a standby) has priority 0 whatever the standby's own setting says.
    if (sync && onPrimary) {
      const i = sync.names.findIndex((n) => n === '*' || n.toLowerCase() === app.toLowerCase());
      priority = i < 0 ? 0 : i + 1;
    }
    return {
      usename: 'replicator',
      application_name: app,
      client_addr: e.client,
      state: e.caughtUp ? 'streaming' : 'catchup',
      sync_state: 'async',
      sync_priority: priority,
      flush_lsn: e.flush,
      replay_lsn: e.replay,
      lsn: e.flush,
    };
  });
  if (!sync || !writable) return rows;
  // Only a walsender that has caught up once may be synchronous (PostgreSQL's rule).
  for (const r of rows) if (r.sync_priority > 0) r.sync_state = 'potential';
  const candidates = rows.filter((r) => r.sync_priority > 0 && r.state === 'streaming');
  if (sync.method === 'any') {
    for (const r of candidates) r.sync_state = 'quorum';
  } else {
    const ranked = [...candidates].sort((a, b) => a.sync_priority - b.sync_priority);
    ranked.forEach((r, k) => {
      r.sync_state = k < sync.num ? 'sync' : 'potential';
    });
  }
  return rows;
}

/**
 * Would PostgreSQL release a commit waiting at lsn, given synchronous_standby_names (naming at
 * least one standby) and pg_stat_replication's rows?
 */
export function commitReleased(
  sync: SyncNames,
  rows: ReadonlyArray<{ sync_state: string; lsn: number }>,
  lsn: number,
): boolean {
  if (sync.method === 'any')
    return rows.filter((r) => r.sync_state === 'quorum' && r.lsn >= lsn).length >= sync.num;
  const chosen = rows.filter((r) => r.sync_state === 'sync');
  return chosen.length >= sync.num && chosen.every((r) => r.lsn >= lsn);
}
