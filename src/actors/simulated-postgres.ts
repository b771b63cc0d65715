/**
 * A simulated PostgreSQL for whole-cluster tests in virtual time: data directories with a
 * system identifier, timelines and WAL positions; promotion (timeline + 1 with a history
 * line), pg_basebackup, pg_rewind, streaming replication that stalls on diverged timelines,
 * physical slots, synchronous_standby_names and commit acknowledgement, crashes and slow
 * operations. Every instance of one cluster lives in one `SimulatedWorld`, which owns the
 * clock, the replication ticks and the seeded randomness. Nothing here reads the wall clock or
 * Math.random: the same seed and the same calls give the same run.
 *
 * The model of WAL: a data directory holds a chain of timeline segments (each with a number,
 * a world-unique id and, except the last, the LSN where it ended) and the position reached
 * on the last one. Two servers share WAL up to a position exactly when the segment holding
 * that position has the same id in both chains (two independent promotions from timeline 1
 * both make a timeline 2, as in PostgreSQL, but different ones).
 */

import type { NodeConfig } from '../config/types.ts';
import type { Clock } from './clock.ts';
import {
  type DataDirState,
  followingAsPrimary,
  notRunningStatus,
  type Postgres,
  type PostgresStatus,
  type StartRole,
  type StopMode,
  type UpstreamTarget,
  type WalSender,
} from './postgres.ts';
import { defaultWalSenderTiming, WalSenderTable, type WalSenderTiming } from './simulated-walsenders.ts';

/** How long each operation takes, in ms of the world's clock. */
export interface SimulatedDurations {
  initdbMs: number;
  startMs: number;
  stopMs: number;
  promoteMs: number;
  basebackupMs: number;
  rewindMs: number;
  /** CHECKPOINT (0: at once). */
  checkpointMs: number;
}

export const defaultDurations: SimulatedDurations = Object.freeze({
  initdbMs: 300,
  startMs: 200,
  stopMs: 100,
  promoteMs: 200,
  basebackupMs: 500,
  rewindMs: 300,
  checkpointMs: 0,
});

export interface SimulatedWorldOptions {
  clock: Clock;
  /** The only source of randomness (system identifiers). */
  seed?: number;
  /** Replication runs in steps of this many ms (default 100). */
  tickMs?: number;
  /** How many bytes a standby receives per tick at most (default: all there is). */
  bytesPerTick?: number;
  durations?: Partial<SimulatedDurations>;
  /** A standby whose primary_slot_name does not exist on its primary does not stream (default true). */
  enforceSlots?: boolean;
  /** server_version_num reported (default 150004). */
  serverVersion?: number;
  /** wal_sender_timeout and how long a walsender outlives an unseen disconnection (see simulated-walsenders.ts). */
  walSenders?: Partial<WalSenderTiming>;
  /**
   * Report a standby that does not stream on pg_control's checkpoint timeline, as pgwarden's
   * status query did before it asked IDENTIFY_SYSTEM (it lags a switch). Off: the replayed
   * timeline, as the agent reports it now. On only to show that the invariants catch it.
   */
  checkpointTimelineWhenNotStreaming?: boolean;
  /**
   * A clean stop of a primary waits for its ghost walsenders to be reaped, and the server answers
   * no query while it stops, as PostgreSQL does (default true). Off: the older, kinder model.
   */
  ghostsHoldShutdown?: boolean;
}

/** One timeline of a data directory's WAL: number, world-unique id, and where it ended. */
interface Segment {
  tl: number;
  id: number;
  end: number | null;
}

interface DataDir {
  sysid: string;
  /** patroni.dynamic.json: the last /config the agent kept here. */
  dynamicCache?: Record<string, unknown>;
  segments: Segment[];
  /** Primary: pg_current_wal_lsn; standby: the last received (flushed) position. */
  lsn: number;
  clusterState: string;
  checkpointLsn: number;
  slots: Set<string>;
  /**
   * Ran as a primary, or was about to (a promotion began, its agent held the lock), since it was
   * cloned or rewound: its WAL may have forked, and its agent treats it as an old primary's.
   */
  mayHaveForked?: boolean;
}

interface Proc {
  role: 'primary' | 'standby';
  /** Accepting connections. */
  ready: boolean;
  /** A stop was signalled: no new sessions or commits while the shutdown runs. */
  stopping?: boolean;
  startedAt: number;
  upstream: UpstreamTarget | null;
  /** The WAL receiver is connected (standby). */
  connected: boolean;
  /** Order in which standbys connected to their upstream (walsender order). */
  connectedSeq: number;
  /** This server's walsenders: the standbys streaming from it, and ghosts of gone ones. */
  senders: WalSenderTable;
  receivedAny: boolean;
  replayed: number;
  replayedAt: number | null;
  /** ISO text of startedAt and of replayedAt (as of replayedAt = isoOf), for status(). */
  startedIso?: string;
  replayedIso?: string | null;
  isoOf?: number | null;
}

export type CommitState = 'rejected' | 'waiting' | 'acknowledged' | 'failed';

/** One client write: where it went and what the client was told. */
export interface Commit {
  node: string;
  bytes: number;
  /** The commit's end position on the primary (-1 when rejected). */
  lsn: number;
  timeline: number | null;
  /**
   * rejected: not a writable primary, nothing written; waiting: written, the client waits for
   * synchronous standbys; acknowledged: the client was told it committed; failed: written
   * locally but the connection died before the acknowledgement (outcome unknown to the client).
   */
  state: CommitState;
  /** Clock ms when it was sent, and when it was acknowledged (null: not acknowledged). */
  at: number;
  ackedAt: number | null;
  /** Resolves true once acknowledged, false once rejected or failed. */
  done: Promise<boolean>;
  /** @internal */
  segment: number;
  /** @internal */
  sysid: string;
}

const FIRST_LSN = 0x3000028;
const CHECKPOINT_RECORD = 0x68;
const END_OF_RECOVERY_RECORD = 0x28;

/** A small deterministic PRNG (mulberry32): the same seed gives the same sequence. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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

export class SimulatedWorld {
  readonly clock: Clock;
  readonly random: () => number;
  readonly durations: SimulatedDurations;
  readonly tickMs: number;
  bytesPerTick: number;
  readonly enforceSlots: boolean;
  readonly serverVersion: number;
  readonly walSenderTiming: WalSenderTiming;
  readonly checkpointTimelineWhenNotStreaming: boolean;
  readonly ghostsHoldShutdown: boolean;
  /**
   * Every pg_rewind: who, when, and whether it was needless: a stopped standby on the source's
   * own timeline, not ahead of it, that has not run as a primary since it was cloned or rewound
   * (an old primary is rewound on principle; pg_rewind then says whether anything was to be done).
   */
  readonly rewinds: Array<{ node: string; at: number; needless: boolean }> = [];
  private readonly instances = new Map<string, SimulatedPostgres>();
  private readonly cuts = new Set<string>();
  /** `to<-from`: `to` is alive but refuses connections from `from` (a firewall REJECT rule). */
  private readonly refusals = new Set<string>();
  private nextSegmentId = 1;
  private connectSeq = 0;
  private ticker: unknown = null;
  private readonly pending: Commit[] = [];
  private readonly resolvers = new Map<Commit, (ok: boolean) => void>();
  /** Every acknowledged write, in order. */
  readonly acknowledged: Commit[] = [];
  /** Every promotion: which instance, when (clock ms), onto which timeline. */
  readonly promotions: Array<{ node: string; at: number; timeline: number; segment: number }> = [];
  /** Called at every promotion (the simulator notes what the promoting node could record). */
  onPromote: ((p: { node: string; at: number; timeline: number; segment: number }) => void) | null = null;

  /** Commits written and still waiting for their acknowledgement. */
  waiting(): readonly Commit[] {
    return this.pending;
  }

  constructor(opts: SimulatedWorldOptions) {
    this.clock = opts.clock;
    this.random = seededRandom(opts.seed ?? 1);
    this.durations = { ...defaultDurations, ...opts.durations };
    this.tickMs = opts.tickMs ?? 100;
    this.bytesPerTick = opts.bytesPerTick ?? Number.POSITIVE_INFINITY;
    this.enforceSlots = opts.enforceSlots ?? true;
    this.serverVersion = opts.serverVersion ?? 150004;
    this.walSenderTiming = { ...defaultWalSenderTiming, ...opts.walSenders };
    this.checkpointTimelineWhenNotStreaming = opts.checkpointTimelineWhenNotStreaming ?? false;
    this.ghostsHoldShutdown = opts.ghostsHoldShutdown ?? true;
    this.schedule();
  }

  /** @internal How many commits were acknowledged or failed (each resolves its `done`). */
  finishedCommits = 0;

  /**
   * @internal The clock timer of the next replication tick. A tick runs synchronously and
   * starts nothing asynchronous, except by finishing commits (see finishedCommits).
   */
  tickTimer(): unknown {
    return this.ticker;
  }

  /** Stop the replication ticks (the world is done). */
  dispose(): void {
    if (this.ticker !== null) this.clock.clearTimeout(this.ticker);
    this.ticker = null;
  }

  private schedule(): void {
    this.ticker = this.clock.setTimeout(() => {
      this.tick();
      this.schedule();
    }, this.tickMs);
  }

  /** A new PostgreSQL instance (an empty data directory) at host:port. */
  add(name: string, host = name, port = 5432): SimulatedPostgres {
    const pg = new SimulatedPostgres(this, name, host, port);
    this.instances.set(name, pg);
    return pg;
  }

  instance(name: string): SimulatedPostgres {
    const pg = this.instances.get(name);
    if (!pg) throw new Error(`no simulated postgres named ${name}`);
    return pg;
  }

  all(): SimulatedPostgres[] {
    return [...this.instances.values()];
  }

  /** @internal */
  byAddress(host: string, port: number): SimulatedPostgres | undefined {
    for (const pg of this.instances.values()) if (pg.host === host && pg.port === port) return pg;
    return undefined;
  }

  // ---- network between instances ---------------------------------------------------------

  private static pair(a: string, b: string): string {
    return a < b ? `${a}|${b}` : `${b}|${a}`;
  }

  /** Replication (and, for the testing harness, everything else) between a and b breaks. */
  cut(a: string, b: string): void {
    this.cuts.add(SimulatedWorld.pair(a, b));
  }

  heal(a: string, b: string): void {
    this.cuts.delete(SimulatedWorld.pair(a, b));
  }

  healAll(): void {
    this.cuts.clear();
    this.refusals.clear();
  }

  linked(a: string, b: string): boolean {
    return a === b || !this.cuts.has(SimulatedWorld.pair(a, b));
  }

  /** `to` answers connections from `from` with a refusal (RST), alive as it is. */
  refuse(to: string, from: string): void {
    this.refusals.add(`${to}<-${from}`);
  }

  unrefuse(to: string): void {
    for (const r of [...this.refusals]) if (r.startsWith(`${to}<-`)) this.refusals.delete(r);
  }

  /** `from` can open a connection to `to`: linked, and not refused. */
  accepts(to: string, from: string): boolean {
    return this.linked(to, from) && !this.refusals.has(`${to}<-${from}`);
  }

  // ---- identities --------------------------------------------------------------------------

  /** @internal */
  newSegmentId(): number {
    return this.nextSegmentId++;
  }

  /** @internal A 19-digit system identifier from the seeded randomness. */
  newSystemIdentifier(): string {
    let s = String(6 + Math.floor(this.random() * 3));
    for (let i = 0; i < 18; i++) s += String(Math.floor(this.random() * 10));
    return s;
  }

  /** @internal */
  nextConnectSeq(): number {
    return ++this.connectSeq;
  }

  /** @internal Resolves after ms of the world's clock. */
  sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => this.clock.setTimeout(() => resolve(), ms));
  }

  // ---- writes ------------------------------------------------------------------------------

  /**
   * A client commits `bytes` of WAL on `node`. Acknowledged at once without synchronous
   * standbys; otherwise once they have received it (per synchronous_standby_names), as the
   * replication ticks advance. `done` tells the client's outcome. `refused`: the client could
   * not connect (rejected, nothing written).
   */
  write(node: string, bytes: number, refused = false): Commit {
    const pg = this.instance(node);
    const commit: Commit = {
      node,
      bytes,
      lsn: -1,
      timeline: null,
      state: 'rejected',
      at: this.clock.now(),
      ackedAt: null,
      done: Promise.resolve(false),
      segment: -1,
      sysid: '',
    };
    const d = pg.data;
    if (refused || !pg.writable() || !d) return commit;
    d.lsn += Math.max(1, Math.floor(bytes));
    const last = d.segments[d.segments.length - 1]!;
    commit.lsn = d.lsn;
    commit.timeline = last.tl;
    commit.segment = last.id;
    commit.sysid = d.sysid;
    commit.state = 'waiting';
    commit.done = new Promise<boolean>((resolve) => this.resolvers.set(commit, resolve));
    this.pending.push(commit);
    this.settleCommits();
    return commit;
  }

  private finish(commit: Commit, state: 'acknowledged' | 'failed'): void {
    commit.state = state;
    this.finishedCommits++;
    if (state === 'acknowledged') {
      commit.ackedAt = this.clock.now();
      this.acknowledged.push(commit);
    }
    const resolve = this.resolvers.get(commit);
    this.resolvers.delete(commit);
    resolve?.(state === 'acknowledged');
  }

  /** @internal Acknowledge what the synchronous standbys have; fail what lost its primary. */
  settleCommits(): void {
    if (this.pending.length === 0) return;
    for (const commit of [...this.pending]) {
      const pg = this.instances.get(commit.node)!;
      const d = pg.data;
      const sameWal = d?.sysid === commit.sysid && d.segments.at(-1)?.id === commit.segment;
      let outcome: 'acknowledged' | 'failed' | null = null;
      if (!pg.writable() || !sameWal) outcome = 'failed';
      else if (pg.commitAcknowledged(commit.lsn)) outcome = 'acknowledged';
      if (outcome) {
        this.pending.splice(this.pending.indexOf(commit), 1);
        this.finish(commit, outcome);
      }
    }
  }

  /** Acknowledged writes that `node`'s WAL does not contain (lost if `node` is the primary). */
  lostWrites(node: string): Commit[] {
    const pg = this.instance(node);
    return this.acknowledged.filter((c) => !pg.hasWal(c.sysid, c.segment, c.lsn));
  }

  // ---- replication -------------------------------------------------------------------------

  /** One replication step: every running standby catches up with its upstream if it can. */
  tick(): void {
    for (const s of this.instances.values()) s.stream();
    for (const s of this.instances.values()) s.reconcileSenders();
    this.settleCommits();
  }
}

/** Are `mine` exactly the copies stream() makes of `up` up to index i (i open, end null)? */
function copiesOf(mine: readonly Segment[], up: readonly Segment[], i: number): boolean {
  if (mine.length !== i + 1) return false;
  for (let k = 0; k <= i; k++) {
    const a = mine[k]!;
    const b = up[k]!;
    if (a.tl !== b.tl || a.id !== b.id || a.end !== (k === i ? null : b.end)) return false;
  }
  return true;
}

export class SimulatedPostgres implements Postgres {
  /** @internal */
  data: DataDir | null = null;
  /** @internal */
  proc: Proc | null = null;
  /** What the running postmaster uses, and what the configuration file says for the next start. */
  private params: Record<string, string | number | boolean> = {};
  private fileParams: Record<string, string | number | boolean> = {};
  private epoch = 0;
  private slow: Partial<SimulatedDurations> = {};
  /** pg_rewind runs still to answer "not possible" (see refuseRewind). */
  private rewindRefusals = 0;

  constructor(
    readonly world: SimulatedWorld,
    readonly name: string,
    readonly host: string,
    readonly port: number,
  ) {}

  // ---- faults and inspection ---------------------------------------------------------------

  /** The postmaster dies (kill -9): the data directory stays as it was ('in production' for a primary). */
  crash(): void {
    if (!this.proc) return;
    this.proc = null;
    this.epoch++;
    this.world.settleCommits();
  }

  /**
   * The next `times` runs of pg_rewind reach the source and find they cannot rewind (as with
   * neither wal_log_hints nor data checksums on the target): they answer false, the data
   * directory untouched.
   */
  refuseRewind(times = 1): void {
    this.rewindRefusals += times;
  }

  /** Make operations slower (or faster) on this instance. */
  setDurations(d: Partial<SimulatedDurations>): void {
    this.slow = { ...this.slow, ...d };
  }

  private duration(k: keyof SimulatedDurations): number {
    return this.slow[k] ?? this.world.durations[k];
  }

  running(): boolean {
    return this.proc?.ready ?? false;
  }

  writable(): boolean {
    return this.proc?.ready === true && this.proc.role === 'primary' && !this.proc.stopping;
  }

  /** Timeline, position and the history lines, for assertions. */
  wal(): { timeline: number; lsn: number; history: Array<[number, number, string]> } | null {
    const d = this.data;
    if (!d) return null;
    return { timeline: d.segments.at(-1)!.tl, lsn: d.lsn, history: this.historyLines() };
  }

  slots(): string[] {
    return [...(this.data?.slots ?? [])].sort();
  }

  synchronousStandbyNames(): string {
    return String(this.params['synchronous_standby_names'] ?? '');
  }

  /** @internal Does our WAL contain position lsn of segment `segment`? */
  hasWal(sysid: string, segment: number, lsn: number): boolean {
    const d = this.data;
    if (!d || d.sysid !== sysid) return false;
    const s = d.segments.find((x) => x.id === segment);
    if (!s) return false;
    return (s.end ?? d.lsn) >= lsn;
  }

  private historyLines(): Array<[number, number, string]> {
    const segs = this.data?.segments ?? [];
    return segs.slice(0, -1).map((s) => [s.tl, s.end!, 'no recovery target specified']);
  }

  private upstreamOf(): SimulatedPostgres | undefined {
    const u = this.proc?.upstream;
    return u ? this.world.byAddress(u.host, u.port) : undefined;
  }

  /** @internal Can a standby at our position stream from `u`: the segment we are on is in its history, not past its end. */
  compatibleWith(u: SimulatedPostgres): boolean {
    const d = this.data;
    const ud = u.data;
    if (!d || !ud || d.sysid !== ud.sysid) return false;
    const mine = d.segments.at(-1)!.id;
    const j = ud.segments.findIndex((s) => s.id === mine);
    if (j < 0) return false;
    const limit = ud.segments[j]!.end ?? ud.lsn;
    return d.lsn <= limit;
  }

  /** On `u`'s current timeline (the same segment), not ahead of it: nothing to rewind. */
  private onTimelineOf(u: SimulatedPostgres): boolean {
    const d = this.data;
    const ud = u.data;
    return !!d && !!ud && d.segments.at(-1)!.id === ud.segments.at(-1)!.id && d.lsn <= ud.lsn;
  }

  /** @internal One replication step for a running standby. */
  stream(): void {
    const p = this.proc;
    const d = this.data;
    if (!p?.ready || p.role !== 'standby' || !d) return;
    const u = this.upstreamOf();
    const up =
      !!u?.proc?.ready &&
      !!u.data &&
      this.world.accepts(u.name, this.name) &&
      this.compatibleWith(u) &&
      this.slotOk(u);
    if (!up || !u?.data || !u.proc) {
      p.connected = false;
      return;
    }
    // A connection the upstream no longer has (it restarted in between) is a new one.
    if (p.connected && !u.proc.senders.has(p.connectedSeq)) p.connected = false;
    if (!p.connected) {
      const slot = p.upstream?.slotName ?? null;
      // "replication slot is active for PID": a walsender, perhaps a ghost, still holds it.
      if (slot && u.proc.senders.slotActive(slot)) return;
      p.connected = true;
      p.connectedSeq = this.world.nextConnectSeq();
      u.proc.senders.connect(
        {
          standby: this.name,
          conn: p.connectedSeq,
          applicationName: p.upstream!.applicationName,
          client: this.host,
          slot,
          flush: d.lsn,
        },
        this.world.clock.now(),
      );
    }
    const target = Math.min(u.data.lsn, d.lsn + this.world.bytesPerTick);
    if (target >= d.lsn) {
      const mine = d.segments.at(-1)!.id;
      const us = u.data.segments;
      let i = us.findIndex((s) => s.id === mine);
      while (i < us.length - 1 && target >= us[i]!.end!) i++;
      // Our own copy of the upstream's segments up to i, the last one still open (kept when
      // it already is that: a caught-up standby's ticks then allocate nothing).
      if (!copiesOf(d.segments, us, i))
        d.segments = us.slice(0, i + 1).map((s, k) => ({ ...s, end: k === i ? null : s.end }));
      if (target > d.lsn || !p.receivedAny) p.replayedAt = this.world.clock.now();
      d.lsn = target;
      p.replayed = target;
      p.receivedAny = true;
    }
  }

  private slotOk(u: SimulatedPostgres): boolean {
    const slot = this.proc?.upstream?.slotName;
    if (!slot || !this.world.enforceSlots || u.proc?.role !== 'primary') return true;
    return u.data?.slots.has(slot) ?? false;
  }

  /** Is `s` streaming from us on connection `conn` right now? */
  private streamsFromUs(s: SimulatedPostgres | undefined, conn: number): s is SimulatedPostgres {
    const p = s?.proc;
    return (
      !!p?.ready && p.role === 'standby' && p.connected && p.connectedSeq === conn && s!.upstreamOf() === this
    );
  }

  /** @internal One replication tick on the sending side: see WalSenderTable.reconcile. */
  reconcileSenders(): void {
    const p = this.proc;
    if (!p?.ready || !this.data) return;
    p.senders.reconcile(this.world.clock.now(), this.data.lsn, (e) => {
      const s = this.world.all().find((x) => x.name === e.standby);
      const live = this.streamsFromUs(s, e.conn);
      return {
        live,
        flush: live ? s.data!.lsn : e.flush,
        replay: live ? s.proc!.replayed : e.replay,
        reachable: this.world.accepts(this.name, e.standby),
      };
    });
  }

  /** @internal Standbys streaming from us (ghosts aside), in connection order. */
  private standbys(): SimulatedPostgres[] {
    const out: SimulatedPostgres[] = [];
    for (const e of this.proc?.senders.all() ?? []) {
      const s = this.world.all().find((x) => x.name === e.standby);
      if (e.ghostSince === null && this.streamsFromUs(s, e.conn)) out.push(s);
    }
    return out;
  }

  /** pg_stat_replication, ghosts included, in walsender order; `lsn` is the confirmed flush. */
  private walSenders(): Array<WalSender & { lsn: number }> {
    const sync = parseSynchronousStandbyNames(this.synchronousStandbyNames());
    const rows = (this.proc?.senders.all() ?? []).map((e) => {
      const app = e.applicationName;
      let priority = 0;
      // PostgreSQL matches names case-insensitively, quoted or not, and a cascading walsender
      // (on a standby) has priority 0 whatever the standby's own setting says.
      if (sync && this.proc?.role === 'primary') {
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
    if (!sync || !this.writable()) return rows;
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

  /** @internal Would PostgreSQL release a commit waiting at lsn now? */
  commitAcknowledged(lsn: number): boolean {
    const sync = parseSynchronousStandbyNames(this.synchronousStandbyNames());
    if (!sync || sync.num <= 0) return true;
    const rows = this.walSenders();
    if (sync.method === 'any')
      return rows.filter((r) => r.sync_state === 'quorum' && r.lsn >= lsn).length >= sync.num;
    const chosen = rows.filter((r) => r.sync_state === 'sync');
    return chosen.length >= sync.num && chosen.every((r) => r.lsn >= lsn);
  }

  // ---- the Postgres contract -----------------------------------------------------------------

  async dataDir(): Promise<DataDirState> {
    const d = this.data;
    if (!d) {
      return {
        initialized: false,
        systemIdentifier: null,
        clusterState: null,
        timeline: null,
        checkpointLsn: null,
      };
    }
    return {
      initialized: true,
      systemIdentifier: d.sysid,
      clusterState: d.clusterState,
      timeline: d.segments.at(-1)!.tl,
      checkpointLsn: d.checkpointLsn,
    };
  }

  async initdb(): Promise<void> {
    if (this.data) throw new Error(`initdb: data directory of ${this.name} is not empty`);
    await this.world.sleep(this.duration('initdbMs'));
    if (this.data) throw new Error(`initdb: data directory of ${this.name} is not empty`);
    this.data = {
      sysid: this.world.newSystemIdentifier(),
      segments: [{ tl: 1, id: this.world.newSegmentId(), end: null }],
      lsn: FIRST_LSN,
      clusterState: 'shut down',
      checkpointLsn: FIRST_LSN,
      slots: new Set(),
    };
  }

  async basebackup(from: UpstreamTarget): Promise<void> {
    if (this.data) throw new Error(`basebackup: data directory of ${this.name} is not empty`);
    const src = this.source(from);
    await this.world.sleep(this.duration('basebackupMs'));
    const sd = src.data;
    if (!src.proc?.ready || !sd || !this.world.accepts(src.name, this.name)) {
      throw new Error(`pg_basebackup: connection to ${from.host}:${from.port} lost`);
    }
    if (this.data) throw new Error(`basebackup: data directory of ${this.name} is not empty`);
    this.data = {
      sysid: sd.sysid,
      segments: sd.segments.map((s, k) => ({ ...s, end: k === sd.segments.length - 1 ? null : s.end })),
      lsn: sd.lsn,
      clusterState: 'in archive recovery',
      checkpointLsn: sd.lsn,
      slots: new Set(),
    };
  }

  private source(from: UpstreamTarget): SimulatedPostgres {
    const src = this.world.byAddress(from.host, from.port);
    if (!src?.proc?.ready || !src.data || !this.world.accepts(src.name, this.name)) {
      throw new Error(`could not connect to server at ${from.host}:${from.port}`);
    }
    return src;
  }

  async start(role: StartRole, upstream: UpstreamTarget | null, timeoutSeconds: number): Promise<void> {
    if (!this.data) throw new Error(`start: data directory of ${this.name} is empty`);
    if (this.proc) throw new Error(`start: postmaster of ${this.name} is already running`);
    this.params = { ...this.fileParams };
    const epoch = ++this.epoch;
    const proc: Proc = {
      role: role === 'primary' ? 'primary' : 'standby',
      ready: false,
      startedAt: this.world.clock.now(),
      upstream: role === 'replica' ? upstream : null,
      connected: false,
      connectedSeq: 0,
      senders: new WalSenderTable(this.world.walSenderTiming),
      receivedAny: false,
      replayed: this.data.lsn,
      replayedAt: null,
    };
    this.proc = proc;
    const ready = () => {
      if (this.epoch !== epoch || this.proc !== proc || !this.data) return;
      proc.ready = true;
      this.data.clusterState = proc.role === 'primary' ? 'in production' : 'in archive recovery';
      if (proc.role === 'primary') this.data.mayHaveForked = true;
    };
    const ms = this.duration('startMs');
    const limit = timeoutSeconds * 1000;
    if (ms > limit) {
      this.world.clock.setTimeout(ready, ms);
      await this.world.sleep(limit);
      throw new Error(`start: ${this.name} did not accept connections within ${timeoutSeconds} s`);
    }
    await this.world.sleep(ms);
    ready();
    if (!proc.ready) throw new Error(`start: postmaster of ${this.name} exited during startup`);
    this.world.tick();
  }

  async stop(mode: StopMode, timeoutSeconds: number): Promise<{ checkpointLsn: number | null }> {
    const proc = this.proc;
    if (!proc) return { checkpointLsn: this.cleanCheckpoint() };
    // From the signal on, the postmaster refuses connections and ends the sessions (fast and
    // immediate alike): no more commits, while the shutdown checkpoint takes its time.
    proc.stopping = true;
    this.world.settleCommits();
    const deadline = this.world.clock.now() + timeoutSeconds * 1000;
    await this.world.sleep(this.duration('stopMs'));
    if (this.proc !== proc || !this.data) return { checkpointLsn: this.cleanCheckpoint() };
    const d = this.data;
    if (mode === 'immediate' || !proc.ready) {
      this.crash();
      return { checkpointLsn: null };
    }
    if (proc.role === 'primary' && this.world.ghostsHoldShutdown) {
      // A walsender exits only once its standby has confirmed the shutdown checkpoint; a ghost's
      // never will, so a clean stop waits until the ghost is reaped (wal_sender_timeout, or its
      // path healing), or gives up at the stop's timeout with the postmaster still running.
      while (proc.senders.all().some((e) => e.ghostSince !== null)) {
        const left = deadline - this.world.clock.now();
        if (left <= 0) {
          throw new Error(
            `stop -m ${mode}: postmaster of ${this.name} still running after ${timeoutSeconds} s`,
          );
        }
        await this.world.sleep(Math.min(500, left));
        if (this.proc !== proc || !this.data) return { checkpointLsn: this.cleanCheckpoint() };
      }
    }
    if (proc.role === 'primary') {
      // The shutdown checkpoint is written and sent to every connected standby before exit.
      d.lsn += CHECKPOINT_RECORD;
      for (const s of this.standbys()) s.stream();
      d.clusterState = 'shut down';
      d.checkpointLsn = d.lsn;
    } else {
      d.clusterState = 'shut down in recovery';
      d.checkpointLsn = proc.replayed;
    }
    this.proc = null;
    this.epoch++;
    this.world.settleCommits();
    return { checkpointLsn: d.checkpointLsn };
  }

  private cleanCheckpoint(): number | null {
    const s = this.data?.clusterState;
    return s === 'shut down' || s === 'shut down in recovery' ? this.data!.checkpointLsn : null;
  }

  async promote(timeoutSeconds: number): Promise<void> {
    const proc = this.proc;
    if (!proc?.ready) throw new Error(`promote: ${this.name} is not running`);
    if (proc.role === 'primary') return;
    if (this.data) this.data.mayHaveForked = true;
    const ms = this.duration('promoteMs');
    if (ms > timeoutSeconds * 1000) {
      await this.world.sleep(timeoutSeconds * 1000);
      throw new Error(`promote: ${this.name} did not leave recovery within ${timeoutSeconds} s`);
    }
    await this.world.sleep(ms);
    const d = this.data;
    if (this.proc !== proc || !d) throw new Error(`promote: ${this.name} stopped meanwhile`);
    const last = d.segments.at(-1)!;
    last.end = d.lsn;
    const tl = Math.max(...d.segments.map((s) => s.tl)) + 1;
    const segment = this.world.newSegmentId();
    d.segments.push({ tl, id: segment, end: null });
    d.lsn += END_OF_RECOVERY_RECORD;
    d.clusterState = 'in production';
    proc.role = 'primary';
    proc.upstream = null;
    proc.connected = false;
    const p = { node: this.name, at: this.world.clock.now(), timeline: tl, segment };
    this.world.promotions.push(p);
    this.world.onPromote?.(p);
    this.world.tick();
  }

  async follow(upstream: UpstreamTarget, timeoutSeconds: number): Promise<void> {
    if (!this.proc) return this.start('replica', upstream, timeoutSeconds);
    // Re-pointing is all follow() does: a primary is demoted by the node machine, never here.
    if (this.proc.role === 'primary') throw new Error(followingAsPrimary(this.name));
    this.proc.upstream = upstream;
    this.proc.connected = false;
    this.world.tick();
  }

  async rewind(from: UpstreamTarget): Promise<boolean> {
    if (!this.data) throw new Error(`rewind: data directory of ${this.name} is empty`);
    if (this.proc) throw new Error(`rewind: postmaster of ${this.name} is still running`);
    const src = this.source(from);
    this.world.rewinds.push({
      node: this.name,
      at: this.world.clock.now(),
      needless:
        this.data.clusterState === 'shut down in recovery' &&
        !this.data.mayHaveForked &&
        this.onTimelineOf(src),
    });
    await this.world.sleep(this.duration('rewindMs'));
    const d = this.data;
    const sd = src.data;
    if (!src.proc?.ready || !sd) throw new Error(`pg_rewind: connection to ${from.host}:${from.port} lost`);
    if (!d || this.proc) throw new Error(`rewind: ${this.name} changed meanwhile`);
    if (this.rewindRefusals > 0) {
      this.rewindRefusals--;
      return false;
    }
    if (d.sysid !== sd.sysid) return false;
    // The last timeline both histories share.
    let common = -1;
    while (
      common + 1 < d.segments.length &&
      common + 1 < sd.segments.length &&
      d.segments[common + 1]!.id === sd.segments[common + 1]!.id
    ) {
      common++;
    }
    if (common < 0) return false;
    // Same timeline as the source: nothing pg_rewind can do about a target that is ahead.
    if (common === sd.segments.length - 1) {
      const canFollow = this.compatibleWith(src);
      if (canFollow) d.mayHaveForked = false;
      return canFollow;
    }
    d.segments = sd.segments.map((s, k) => ({ ...s, end: k === sd.segments.length - 1 ? null : s.end }));
    d.lsn = sd.lsn;
    d.clusterState = 'in archive recovery';
    d.checkpointLsn = sd.lsn;
    d.mayHaveForked = false;
    return true;
  }

  async readDynamicConfigCache(): Promise<Record<string, unknown> | null> {
    return this.data?.dynamicCache ? structuredClone(this.data.dynamicCache) : null;
  }

  async writeDynamicConfigCache(data: Record<string, unknown>): Promise<boolean> {
    if (!this.data) return false;
    this.data.dynamicCache = structuredClone(data);
    return true;
  }

  async removeDataDir(): Promise<void> {
    if (this.proc)
      throw new Error(`refusing to remove the data directory of ${this.name}: postmaster is running`);
    this.data = null;
  }

  async syncSlots(slotNames: string[]): Promise<void> {
    if (!this.proc?.ready || !this.data) throw new Error(`syncSlots: ${this.name} is not running`);
    const active = new Set(this.proc.senders.all().map((e) => e.slot));
    const next = new Set(slotNames);
    for (const s of this.data.slots) if (active.has(s)) next.add(s);
    this.data.slots = next;
  }

  async checkpoint(): Promise<void> {
    if (!this.proc?.ready || !this.data) throw new Error(`checkpoint: ${this.name} is not running`);
    const ms = this.duration('checkpointMs');
    if (ms > 0) await this.world.sleep(ms);
    if (!this.proc?.ready || !this.data) throw new Error(`checkpoint: ${this.name} stopped meanwhile`);
    this.data.checkpointLsn = this.proc.role === 'primary' ? this.data.lsn : this.proc.replayed;
  }

  async timelineHistory(): Promise<Array<[number, number, string]>> {
    return this.historyLines();
  }

  async status(): Promise<PostgresStatus> {
    const p = this.proc;
    const d = this.data;
    if (!p || !d) return notRunningStatus();
    if (!p.ready) throw new Error(`${this.name}: the database system is starting up`);
    if (p.stopping && this.world.ghostsHoldShutdown)
      throw new Error(`${this.name}: the database system is shutting down`);
    const standby = p.role === 'standby';
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    // Samples come every second and these rarely change: their text is kept.
    p.startedIso ??= iso(p.startedAt)!;
    if (standby && p.isoOf !== p.replayedAt) {
      p.replayedIso = iso(p.replayedAt);
      p.isoOf = p.replayedAt;
    }
    return {
      running: true,
      inRecovery: standby,
      timeline: standby && !p.connected ? this.notStreamingTimeline(d) : d.segments.at(-1)!.tl,
      currentLsn: standby ? null : d.lsn,
      receivedLsn: standby && p.receivedAny ? d.lsn : null,
      replayedLsn: standby ? p.replayed : null,
      replayedTimestamp: standby ? (p.replayedIso ?? null) : null,
      replayPaused: false,
      replicationState: standby ? (p.connected ? 'streaming' : 'in archive recovery') : null,
      postmasterStartTime: p.startedIso,
      serverVersion: this.world.serverVersion,
      systemIdentifier: d.sysid,
      replication: standby ? [] : this.walSenders().map(({ lsn: _, ...w }) => w),
      pendingRestart: false,
      synchronousStandbyNames: this.synchronousStandbyNames(),
    };
  }

  /** The replayed timeline, or (checkpointTimelineWhenNotStreaming) the one of the last checkpoint. */
  private notStreamingTimeline(d: DataDir): number {
    if (!this.world.checkpointTimelineWhenNotStreaming) return d.segments.at(-1)!.tl;
    return (d.segments.find((x) => x.end === null || x.end >= d.checkpointLsn) ?? d.segments.at(-1)!).tl;
  }

  async reload(_config: NodeConfig, parameters: Record<string, string | number | boolean>): Promise<void> {
    this.setParameters(parameters);
    if (!this.proc) return;
    this.params = { ...this.fileParams };
    this.world.settleCommits();
  }

  /** Written for the next start only, as the real one does: a running postmaster keeps its own. */
  setParameters(parameters: Record<string, string | number | boolean>): void {
    this.fileParams = { ...parameters };
    if (!this.proc) this.params = { ...this.fileParams };
  }

  async close(): Promise<void> {}
}
