/**
 * Synchronous replication on the leader (Patroni's process_sync_replication), as one pure step
 * at a time: which standbys should be synchronous, and in which order the GUC and `/sync` move
 * so that `/sync` never names a node that lacks a commit PostgreSQL acknowledged.
 *
 *   - a node leaves `/sync` before it leaves synchronous_standby_names;
 *   - it is in `/sync` only while PostgreSQL reports it as `sync` *and* it has confirmed the WAL
 *     the primary had once PostgreSQL waited for it (Patroni 3.0's rule), under the value in force
 *     or a chain of values that all named it. `sync` alone says nothing about commits acknowledged
 *     before the change, while nobody was waited for: a walsender whose standby is gone unnoticed
 *     (a ghost, until wal_sender_timeout) shows as `sync` with a position that never moves. Found
 *     on real processes (bench/chaos.ts).
 */
import type { PostgresStatus, WalSender } from './postgres-state.ts';
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
  /** Set synchronous_standby_names (naming `names`) and reload PostgreSQL. */
  | { kind: 'set-guc'; value: string; names: string[]; reason: string }
  /** PostgreSQL does not show the value set: reload again. */
  | { kind: 'reload'; reason: string }
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

/** Standbys that may be synchronous, best first, each once: streaming, a running member, not nosync. */
export function syncCandidates(view: ClusterView, me: string, replication: readonly WalSender[]): string[] {
  const members = new Map(view.members.map((m) => [m.name, m]));
  return (
    replication
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
      .map((r) => r.application_name)
      // One standby may have two walsenders (a ghost its new connection waits behind): once, best first.
      .filter((name, i, names) => names.indexOf(name) === i)
  );
}

/**
 * What the leader knows about the synchronous_standby_names it intends: where the primary's WAL
 * was once PostgreSQL waited for the standbys it names (every commit acknowledged without them
 * lies below), and which of them have confirmed that much. A standby keeps its place while every
 * value since names it; anything else and it must confirm again.
 */
export interface SyncNamesInEffect {
  value: string;
  /** The catch-up point: the primary's position in the second sample showing `value` (null before). */
  lsn: number | null;
  /** Samples that showed `value` in effect, counted up to 2. */
  seen: number;
  /** Standbys that reported `sync` with the catch-up point flushed, under this value or a chain of values naming them. */
  caughtUp: readonly string[];
}

/**
 * The leader decides on a new value naming `names`: standbys caught up under the value before
 * keep their place if the new value names them too (PostgreSQL goes from one to the other in one
 * reload, never waiting for nobody in between).
 */
export function intendSyncNames(
  prev: SyncNamesInEffect | null,
  value: string,
  names: readonly string[],
): SyncNamesInEffect {
  const kept = new Set(names);
  return { value, lsn: null, seen: 0, caughtUp: (prev?.caughtUp ?? []).filter((n) => kept.has(n)) };
}

/**
 * Notes one status sample begun after the last reload of synchronous_standby_names. The catch-up
 * point is taken from the second sample showing the value, not the first: `SHOW` answers from one
 * backend, which applies a reload before the checkpointer tells committing backends to wait
 * (`sync_standbys_defined`); a second sample, a poll later, is past that. A sample of a primary
 * showing another value breaks the chain (a reload that did not take: nothing is known); so does a
 * server in recovery. A stopped server keeps the note: it acknowledges nothing, and starts with
 * the intended value in its configuration.
 */
export function noteSyncNamesInEffect(
  prev: SyncNamesInEffect | null,
  status: Pick<
    PostgresStatus,
    'running' | 'inRecovery' | 'currentLsn' | 'synchronousStandbyNames' | 'replication'
  >,
  intended: string,
): SyncNamesInEffect | null {
  if (!status.running) return prev;
  if (status.inRecovery || status.currentLsn === null) return null;
  if ((status.synchronousStandbyNames ?? '') !== intended) return null;
  const base = prev?.value === intended ? prev : { value: intended, lsn: null, seen: 0, caughtUp: [] };
  const note = base.seen < 2 ? { ...base, seen: base.seen + 1, lsn: status.currentLsn } : base;
  if (note.seen < 2 || note.lsn === null) return note;
  const point = note.lsn;
  const fresh = status.replication
    .filter((r) => r.sync_state === 'sync' && (r.flush_lsn ?? -1) >= point)
    .map((r) => r.application_name)
    .filter((n) => !note.caughtUp.includes(n));
  return fresh.length === 0 ? note : { ...note, caughtUp: [...note.caughtUp, ...new Set(fresh)] };
}

/**
 * One step. `shown` is the value PostgreSQL reported in a sample begun after the last reload
 * (undefined when there is none yet): a reload that did not take is done again, or the standbys
 * would never be confirmed and `/sync` would stay empty for good.
 */
export function nextSyncStep(
  view: ClusterView,
  me: string,
  replication: readonly WalSender[],
  currentGuc: string,
  settings: SyncSettings,
  inEffect: SyncNamesInEffect | null,
  shown?: string,
): SyncStep {
  if (!settings.synchronous_mode) {
    if (view.sync) return { kind: 'delete-sync' };
    if (currentGuc !== '')
      return { kind: 'set-guc', value: '', names: [], reason: 'synchronous_mode is off' };
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
  if (guc !== currentGuc)
    return { kind: 'set-guc', value: guc, names: picked, reason: 'synchronous standbys changed' };
  if (shown !== undefined && shown !== currentGuc) {
    return { kind: 'reload', reason: `PostgreSQL still has synchronous_standby_names '${shown}'` };
  }
  // 3. /sync names exactly the picked standbys PostgreSQL reports `sync` that have confirmed the
  //    WAL of every commit acknowledged without them. Being listed proves nothing: /sync may have
  //    been written under a value PostgreSQL has not applied all along (an agent restarted beside
  //    a running primary, a primary started with the list empty), so a listed standby not caught
  //    up leaves it until it is.
  const caughtUp = new Set(inEffect?.value === currentGuc ? inEffect.caughtUp : []);
  const confirmed = [
    ...new Set(
      replication
        .filter(
          (r) =>
            pickedSet.has(r.application_name) && r.sync_state === 'sync' && caughtUp.has(r.application_name),
        )
        .map((r) => r.application_name),
    ),
  ].sort();
  if (confirmed.join(',') !== listed.join(',')) {
    return {
      kind: 'write-sync',
      standbys: confirmed,
      reason:
        confirmed.length > listed.length
          ? 'synchronous standbys confirmed by PostgreSQL'
          : 'standbys not confirmed as caught up',
    };
  }
  return { kind: 'none' };
}
