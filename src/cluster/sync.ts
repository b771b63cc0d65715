/**
 * Synchronous replication on the leader (Patroni's process_sync_replication), as one pure step
 * at a time: which standbys should be synchronous, and in which order the GUC and `/sync` move
 * so that `/sync` never names a node that PostgreSQL does not wait for.
 *
 *   - a node leaves `/sync` before it leaves synchronous_standby_names;
 *   - it joins `/sync` only after PostgreSQL reports it as `sync` *and* it has confirmed the WAL
 *     the primary had when PostgreSQL began waiting for it (Patroni 3.0's rule). `sync` alone
 *     says nothing about commits acknowledged before the change, while nobody was waited for:
 *     a walsender whose standby is gone unnoticed (a ghost, until wal_sender_timeout) shows as
 *     `sync` with a position that never moves. Found on real processes (bench/chaos.ts).
 */
import type { PostgresStatus, WalSender } from '../actors/postgres.ts';
import type { ClusterView } from './view.ts';

export interface SyncSettings {
  synchronous_mode: boolean;
  synchronous_mode_strict: boolean;
  synchronous_node_count: number;
}

export type SyncStep =
  | { kind: 'none' }
  /** Write /sync = { leader: me, sync_standby } (compare-and-set on the index seen). */
  | { kind: 'write-sync'; standbys: string[]; reason: string }
  /** Set synchronous_standby_names and reload PostgreSQL. */
  | { kind: 'set-guc'; value: string; reason: string }
  /** Synchronous mode was turned off: drop /sync (CAS). */
  | { kind: 'delete-sync' };

function quoteName(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_$]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

/** `name`, `N (a,b)` (priority syntax), `*` in strict mode with nobody, '' otherwise. */
export function syncStandbyNames(names: readonly string[], strict: boolean): string {
  if (names.length === 0) return strict ? '*' : '';
  if (names.length === 1) return quoteName(names[0]!);
  return `${names.length} (${names.map(quoteName).join(',')})`;
}

/** Standbys that may be synchronous, best first: streaming, a running member, not nosync. */
export function syncCandidates(view: ClusterView, me: string, replication: readonly WalSender[]): string[] {
  const members = new Map(view.members.map((m) => [m.name, m]));
  return replication
    .filter((r) => r.state === 'streaming' && r.application_name !== me)
    .filter((r) => {
      const m = members.get(r.application_name);
      return m !== undefined && m.data.state === 'running' && m.data.tags?.nosync !== true;
    })
    .sort((a, b) => {
      const nofailover = (r: WalSender) =>
        members.get(r.application_name)?.data.tags?.nofailover === true ? 1 : 0;
      const syncFirst = (r: WalSender) => (r.sync_state === 'sync' ? 0 : 1);
      return (
        nofailover(a) - nofailover(b) ||
        syncFirst(a) - syncFirst(b) ||
        (b.flush_lsn ?? 0) - (a.flush_lsn ?? 0) ||
        a.application_name.localeCompare(b.application_name)
      );
    })
    .map((r) => r.application_name);
}

/**
 * Where the primary's WAL was when PostgreSQL was first seen waiting for the standbys that
 * synchronous_standby_names names now: every commit acknowledged without them lies below.
 */
export interface SyncNamesInEffect {
  value: string;
  lsn: number;
}

/**
 * Notes the first status sample that shows PostgreSQL applying `intended` (the agent forgets the
 * note, null, whenever it changes the value). Only a sample taken after the reload shows the new
 * value, so its position is at or past the last commit acknowledged without the new standbys.
 */
export function noteSyncNamesInEffect(
  prev: SyncNamesInEffect | null,
  status: Pick<PostgresStatus, 'running' | 'inRecovery' | 'currentLsn' | 'synchronousStandbyNames'>,
  intended: string,
): SyncNamesInEffect | null {
  if (!status.running || status.inRecovery || status.currentLsn === null) return null;
  if ((status.synchronousStandbyNames ?? '') !== intended) return null;
  if (prev?.value === intended) return prev;
  return { value: intended, lsn: status.currentLsn };
}

export function nextSyncStep(
  view: ClusterView,
  me: string,
  replication: readonly WalSender[],
  currentGuc: string,
  settings: SyncSettings,
  inEffect: SyncNamesInEffect | null,
): SyncStep {
  if (!settings.synchronous_mode) {
    if (view.sync) return { kind: 'delete-sync' };
    if (currentGuc !== '') return { kind: 'set-guc', value: '', reason: 'synchronous_mode is off' };
    return { kind: 'none' };
  }
  const listed = view.sync?.leader === me ? [...view.sync.sync_standby].sort() : [];
  if (view.sync?.leader !== me) {
    // First thing as a synchronous leader: claim /sync with nobody in it.
    return { kind: 'write-sync', standbys: [], reason: 'taking over /sync as the new leader' };
  }
  const picked = syncCandidates(view, me, replication).slice(0, Math.max(1, settings.synchronous_node_count));
  const pickedSet = new Set(picked);
  // 1. Nobody stays in /sync whom PostgreSQL will stop waiting for.
  const keep = listed.filter((n) => pickedSet.has(n));
  if (keep.length !== listed.length) {
    return { kind: 'write-sync', standbys: keep, reason: 'dropping standbys that are no longer synchronous' };
  }
  // 2. PostgreSQL waits for the picked ones.
  const guc = syncStandbyNames(picked, settings.synchronous_mode_strict);
  if (guc !== currentGuc) return { kind: 'set-guc', value: guc, reason: 'synchronous standbys changed' };
  // 3. A standby joins /sync once PostgreSQL reports it synchronous and it has confirmed the WAL
  //    of every commit acknowledged before PostgreSQL waited for it; a listed one stays.
  const caughtUp = (r: WalSender) =>
    listed.includes(r.application_name) ||
    (inEffect?.value === currentGuc && (r.flush_lsn ?? -1) >= inEffect.lsn);
  const confirmed = [
    ...new Set(
      replication
        .filter(
          (r) =>
            pickedSet.has(r.application_name) &&
            (r.sync_state === 'sync' || r.sync_state === 'quorum') &&
            caughtUp(r),
        )
        .map((r) => r.application_name),
    ),
  ].sort();
  if (confirmed.join(',') !== listed.join(',')) {
    return {
      kind: 'write-sync',
      standbys: confirmed,
      reason: 'synchronous standbys confirmed by PostgreSQL',
    };
  }
  return { kind: 'none' };
}
