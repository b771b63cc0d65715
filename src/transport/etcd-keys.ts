/**
 * Patroni's etcd v3 keyspace: key names under `/<namespace>/<scope>/`, the codecs for their
 * values, and the small key-value contract (`Kv`) that both the real etcd client and the
 * in-memory store implement, so Patroni's semantics live in exactly one place.
 *
 * Decoding mirrors how Patroni 3.0.x reads each key, including its tolerance of garbage;
 * encoding produces the bytes Python's `json.dumps(separators=(',', ':'))` would.
 */
import type {
  ClusterConfig,
  ClusterView,
  Failover,
  HistoryLine,
  Leader,
  Member,
  MemberData,
  Status,
  SyncState,
} from '../cluster/view.ts';

export const KEYS = {
  leader: 'leader',
  members: 'members/',
  initialize: 'initialize',
  config: 'config',
  history: 'history',
  failover: 'failover',
  sync: 'sync',
  status: 'status',
  leaderOptime: 'optime/leader',
  failsafe: 'failsafe',
} as const;

/** One key as etcd reports it; int64 fields stay decimal strings, lease "0" = none. */
export interface KvRecord {
  key: string;
  value: string;
  modRevision: string;
  createRevision: string;
  lease: string;
}

// ---------------------------------------------------------------------------------------------
// The kv contract shared by the etcd and in-memory backends.

/** `create`/`mod` compare the key's revision (0 = absent), `value` its bytes; always "equal". */
export interface Compare {
  key: string;
  target: 'create' | 'mod' | 'value';
  equals: string;
}

export type TxnOp =
  | { put: { key: string; value: string; lease?: string } }
  | { delete: { key: string } }
  | { txn: Txn };

export interface Txn {
  compare: Compare[];
  success: TxnOp[];
  failure?: TxnOp[];
}

export interface TxnResult {
  succeeded: boolean;
  revision: string;
  /** Per executed op, the nested txn's result (null for puts and deletes). */
  nested: Array<TxnResult | null>;
}

export interface WatchEvent {
  type: 'put' | 'delete';
  /** For deletes: key, modRevision = the deleting revision, the rest empty. */
  kv: KvRecord;
}

export interface KvCallOptions {
  /** Milliseconds this call may take before the backend gives up. */
  timeoutMs: number;
}

export interface Kv {
  range(key: string, prefix: boolean, opts: KvCallOptions): Promise<{ kvs: KvRecord[]; revision: string }>;
  put(key: string, value: string, lease: string | undefined, opts: KvCallOptions): Promise<string>;
  /** Resolves with the revision after the delete. */
  delete(key: string, opts: KvCallOptions): Promise<string>;
  txn(txn: Txn, opts: KvCallOptions): Promise<TxnResult>;
  leaseGrant(ttl: number, opts: KvCallOptions): Promise<string>;
  /** One keepalive round trip; resolves with the remaining TTL, 0 when the lease is gone. */
  leaseKeepAlive(id: string, opts: KvCallOptions): Promise<number>;
  /** Ends a lease now; its keys go in one revision. Resolves false when it was already gone. */
  leaseRevoke(id: string, opts: KvCallOptions): Promise<boolean>;
  /**
   * Streams changes under `prefix` from `startRevision`; `onEvents` gets each batch in order.
   * `onError` is called at most once, after which the watch is dead. Returns a cancel function.
   */
  watch(
    prefix: string,
    startRevision: string,
    onEvents: (events: WatchEvent[], revision: string) => void,
    onError: (err: Error) => void,
  ): () => void;
  close(): void;
}

/** Smallest key greater than every key with this prefix (etcd's range_end for a prefix). */
export function prefixRangeEnd(prefix: string): Buffer {
  const buf = Buffer.from(prefix);
  for (let i = buf.length - 1; i >= 0; i--) {
    if (buf[i]! < 0xff) {
      const end = Buffer.from(buf.subarray(0, i + 1));
      end[i]! += 1;
      return end;
    }
  }
  return Buffer.from([0]);
}

/** Thrown by backends when etcd refused a put because the lease does not exist. */
export class LeaseNotFoundError extends Error {
  override name = 'LeaseNotFoundError';
}

// ---------------------------------------------------------------------------------------------
// Encoding.

/**
 * Python's `json.dumps(v, separators=(',', ':'))`: like JSON.stringify, but with the default
 * `ensure_ascii=True`, so DEL and everything beyond ASCII is written as lowercase `\uXXXX`
 * (non-BMP characters as surrogate pairs, which is what iterating UTF-16 code units yields).
 * Outside strings JSON has no such characters, so a global replace is safe.
 */
export function pyJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u007f-\uffff]/g,
    (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'),
  );
}

export function encodeMember(data: MemberData): string {
  return pyJson(data);
}

export function encodeStatus(status: Status): string {
  const out: Record<string, unknown> = { optime: status.optime };
  if (status.slots && Object.keys(status.slots).length > 0) out.slots = status.slots;
  return pyJson(out);
}

export function encodeHistory(lines: readonly HistoryLine[]): string {
  return pyJson(lines);
}

export function encodeFailover(value: Record<string, unknown>): string {
  return pyJson(value);
}

/** `sync_standby` is the sorted, comma-joined list, or null when empty. */
export function encodeSync(leader: string | null, syncStandby: readonly string[]): string {
  const joined = [...syncStandby].sort().join(',');
  return pyJson({ leader, sync_standby: joined || null });
}

// ---------------------------------------------------------------------------------------------
// Decoding.

function session(lease: string): string | null {
  return lease && lease !== '0' ? lease : null;
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

function isDict(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Governor-era member value: `postgres://u:p@h:p/db?application_name=<api_url>`. */
function parseLegacyMember(value: string): MemberData {
  const q = value.indexOf('?');
  const hash = value.indexOf('#');
  const queryEnd = hash >= 0 && hash > q ? hash : value.length;
  const query = q >= 0 ? value.slice(q + 1, queryEnd) : '';
  const connUrl = q >= 0 ? value.slice(0, q) + value.slice(queryEnd) : value;
  const api = new URLSearchParams(query).get('application_name');
  return { conn_url: connUrl, api_url: api } as unknown as MemberData;
}

export function decodeMemberData(value: string): MemberData {
  if (value.startsWith('postgres')) return parseLegacyMember(value);
  const parsed = parseJson(value);
  return (parsed.ok && isDict(parsed.value) ? parsed.value : {}) as MemberData;
}

export function decodeConfig(rec: KvRecord): ClusterConfig {
  const parsed = parseJson(rec.value);
  if (!parsed.ok) return { index: '0', data: {} };
  return { index: rec.modRevision, data: isDict(parsed.value) ? parsed.value : {} };
}

function nonEmptyString(v: unknown): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  return String(v);
}

export function decodeFailover(rec: KvRecord): Failover | null {
  let leader: string | undefined;
  let member: string | undefined;
  let scheduledAt: string | undefined;
  if (rec.value) {
    const parsed = parseJson(rec.value);
    if (parsed.ok) {
      const d = isDict(parsed.value) ? parsed.value : {};
      leader = nonEmptyString(d.leader);
      member = nonEmptyString(d.member);
      scheduledAt = nonEmptyString(d.scheduled_at);
    } else {
      // Legacy "leader:candidate" text.
      const parts = rec.value.split(':').map((s) => s.trim());
      leader = nonEmptyString(parts[0]);
      member = nonEmptyString(parts[1]);
    }
  }
  if (!leader && !member) return null;
  const out: Failover = { index: rec.modRevision };
  if (leader) out.leader = leader;
  if (member) out.member = member;
  if (scheduledAt) out.scheduled_at = scheduledAt;
  return out;
}

/** /failsafe: `{name: api_url}` (null unless a JSON object; entries that are not strings dropped). */
export function decodeFailsafe(rec: KvRecord): Record<string, string> | null {
  const parsed = parseJson(rec.value);
  if (!parsed.ok || !isDict(parsed.value)) return null;
  const out: Record<string, string> = {};
  for (const [name, url] of Object.entries(parsed.value)) if (typeof url === 'string') out[name] = url;
  return out;
}

export function decodeSync(rec: KvRecord): SyncState | null {
  const parsed = parseJson(rec.value);
  if (!parsed.ok || !isDict(parsed.value)) return null;
  const standby = parsed.value.sync_standby;
  const list =
    typeof standby === 'string' && standby
      ? standby
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : [];
  return { index: rec.modRevision, leader: nonEmptyString(parsed.value.leader) ?? null, sync_standby: list };
}

/** Python's `int(x or 0)` on what the JSON held, with failures counting as 0. */
function toLsn(v: unknown): number {
  if (typeof v === 'number' && Number.isFinite(v)) return Math.trunc(v);
  if (typeof v === 'string' && /^\s*[+-]?\d+\s*$/.test(v)) return Number.parseInt(v, 10);
  return 0;
}

export function decodeStatus(status: KvRecord | undefined, legacy: KvRecord | undefined): Status | null {
  if (status?.value) {
    const parsed = parseJson(status.value);
    if (!parsed.ok || !isDict(parsed.value)) return { optime: 0 };
    const out: Status = { optime: toLsn(parsed.value.optime) };
    const slots = parsed.value.slots;
    if (isDict(slots)) {
      const clean: Record<string, number> = {};
      for (const [k, v] of Object.entries(slots)) if (typeof v === 'number') clean[k] = v;
      out.slots = clean;
    }
    return out;
  }
  if (legacy) return { optime: toLsn(legacy.value) };
  if (status) return { optime: 0 };
  return null;
}

export function decodeHistory(rec: KvRecord): HistoryLine[] | null {
  const parsed = parseJson(rec.value);
  return parsed.ok && Array.isArray(parsed.value) ? (parsed.value as HistoryLine[]) : null;
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const child of Object.values(v)) deepFreeze(child);
  }
  return v;
}

/**
 * `decode`, once per record object, its result frozen. A record is never changed once read (a
 * new revision is a new record), and the watched view is rebuilt at every change of any key while
 * the other keys stay the records they were: each is parsed and frozen once, not once per view
 * (nor once per watcher sharing it).
 */
function perRecord<T>(decode: (rec: KvRecord) => T): (rec: KvRecord) => T {
  const done = new WeakMap<KvRecord, { value: T }>();
  return (rec) => {
    let d = done.get(rec);
    if (d === undefined) {
      d = { value: deepFreeze(decode(rec)) };
      done.set(rec, d);
    }
    return d.value;
  };
}

const memberDataOf = perRecord((rec) => decodeMemberData(rec.value));
const configOf = perRecord(decodeConfig);
const failoverOf = perRecord(decodeFailover);
const syncOf = perRecord(decodeSync);
const failsafeOf = perRecord(decodeFailsafe);
const historyOf = perRecord(decodeHistory);
/** /status alone (the legacy /optime/leader is read only without it). */
const statusOf = perRecord((rec) => decodeStatus(rec, undefined));

/** Assembles Patroni's view of one scope from a flat list of keys under `prefix`. */
export function buildClusterView(prefix: string, kvs: readonly KvRecord[], revision: string): ClusterView {
  const byKey = new Map<string, KvRecord>();
  const members: Member[] = [];
  for (const rec of kvs) {
    if (!rec.key.startsWith(prefix)) continue;
    const rel = rec.key.slice(prefix.length);
    byKey.set(rel, rec);
    if (rel.startsWith(KEYS.members)) {
      const name = rel.slice(KEYS.members.length);
      if (name && !name.includes('/')) {
        members.push({
          name,
          index: rec.modRevision,
          session: session(rec.lease),
          data: memberDataOf(rec),
        });
      }
    }
  }
  members.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const leaderRec = byKey.get(KEYS.leader);
  const leader: Leader | null = leaderRec
    ? { name: leaderRec.value, index: leaderRec.modRevision, session: session(leaderRec.lease) }
    : null;
  const get = (k: string) => byKey.get(k);
  const config = get(KEYS.config);
  const failover = get(KEYS.failover);
  const sync = get(KEYS.sync);
  const history = get(KEYS.history);
  const status = get(KEYS.status);
  const failsafe = get(KEYS.failsafe);

  return deepFreeze({
    revision,
    initialize: get(KEYS.initialize)?.value ?? null,
    config: config ? configOf(config) : null,
    leader,
    members,
    failover: failover ? failoverOf(failover) : null,
    sync: sync ? syncOf(sync) : null,
    status: status?.value ? statusOf(status) : decodeStatus(status, get(KEYS.leaderOptime)),
    history: history ? historyOf(history) : null,
    failsafe: failsafe ? failsafeOf(failsafe) : null,
  });
}
