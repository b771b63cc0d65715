/**
 * One simulated server as the rest of the world sees it between operations: its data directory
 * and postmaster, the faults a test can inflict on it, what assertions and the status sample
 * read of it, and WAL streaming — the standby's side each replication tick, and the walsenders
 * on the sending side.
 * The Postgres contract the agent drives (postgres.ts) is built on top of this; keeping the
 * replication here lets the world tick every server without going through that contract.
 */
import {
  notRunningStatus,
  type PostgresStatus,
  type UpstreamTarget,
  type WalSender,
} from '../../actors/postgres.ts';
import { commitReleased, parseSynchronousStandbyNames, walSenderRows } from './synchronous.ts';
import type { SimulatedDurations } from './types.ts';
import { copiesOf, type DataDir, historyLines, openCopy } from './wal.ts';
import type { WalSenderTable } from './walsenders.ts';
import type { SimulatedWorld } from './world.ts';

export interface Proc {
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
  /** A re-pointed standby's receiver connects no earlier than this (durations.repointMs). */
  receiverFrom?: number;
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

export class SimulatedServer {
  /** @internal */
  data: DataDir | null = null;
  /** @internal */
  proc: Proc | null = null;
  /** What the running postmaster uses, and what the configuration file says for the next start. */
  protected params: Record<string, string | number | boolean> = {};
  protected fileParams: Record<string, string | number | boolean> = {};
  protected epoch = 0;
  private slow: Partial<SimulatedDurations> = {};
  /** pg_rewind runs still to answer "not possible" (see refuseRewind). */
  protected rewindRefusals = 0;

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

  /** How long an operation takes on this instance now (slowed down or not). */
  duration(k: keyof SimulatedDurations): number {
    return this.slow[k] ?? this.world.durations[k];
  }

  running(): boolean {
    return this.proc?.ready ?? false;
  }

  /** A client's write would be accepted: a ready primary, not stopping, not fenced. */
  writable(): boolean {
    return (
      this.proc?.ready === true && this.proc.role === 'primary' && !this.proc.stopping && !this.data?.fenced
    );
  }

  /** Timeline, position and the history lines, for assertions. */
  wal(): { timeline: number; lsn: number; history: Array<[number, number, string]> } | null {
    const d = this.data;
    if (!d) return null;
    return { timeline: d.segments.at(-1)!.tl, lsn: d.lsn, history: historyLines(this.data) };
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

  private upstreamOf(): SimulatedServer | undefined {
    const u = this.proc?.upstream;
    return u ? this.world.byAddress(u.host, u.port) : undefined;
  }

  /** @internal Can a standby at our position stream from `u`: the segment we are on is in its history, not past its end. */
  compatibleWith(u: SimulatedServer): boolean {
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
  protected onTimelineOf(u: SimulatedServer): boolean {
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
    if (!p.connected && this.world.clock.now() < (p.receiverFrom ?? 0)) return;
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
      if (!copiesOf(d.segments, us, i)) d.segments = openCopy(us, i);
      if (target > d.lsn || !p.receivedAny) p.replayedAt = this.world.clock.now();
      d.lsn = target;
      p.replayed = target;
      p.receivedAny = true;
    }
  }

  /**
   * A standby naming a primary_slot_name its upstream lacks does not stream — the upstream a
   * primary or, cascading, another standby ("replication slot does not exist" either way; the
   * model once checked primaries only, and missed that no replica made its cascaders' slots).
   */
  private slotOk(u: SimulatedServer): boolean {
    const slot = this.proc?.upstream?.slotName;
    if (!slot || !this.world.enforceSlots) return true;
    return u.data?.slots.has(slot) ?? false;
  }

  /** Is `s` streaming from us on connection `conn` right now? */
  private streamsFromUs(s: SimulatedServer | undefined, conn: number): s is SimulatedServer {
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
  protected standbys(): SimulatedServer[] {
    const out: SimulatedServer[] = [];
    for (const e of this.proc?.senders.all() ?? []) {
      const s = this.world.all().find((x) => x.name === e.standby);
      if (e.ghostSince === null && this.streamsFromUs(s, e.conn)) out.push(s);
    }
    return out;
  }

  /** pg_stat_replication, ghosts included, in walsender order; `lsn` is the confirmed flush. */
  protected walSenders(): Array<WalSender & { lsn: number }> {
    const sync = parseSynchronousStandbyNames(this.synchronousStandbyNames());
    return walSenderRows(
      this.proc?.senders.all() ?? [],
      sync,
      this.proc?.role === 'primary',
      this.writable(),
    );
  }

  /** The postmaster exists (ready or not, as postmaster.pid would say). */
  async postmasterRunning(): Promise<boolean> {
    return this.proc !== null;
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

  /** @internal Would PostgreSQL release a commit waiting at lsn now? */
  commitAcknowledged(lsn: number): boolean {
    const sync = parseSynchronousStandbyNames(this.synchronousStandbyNames());
    if (!sync || sync.num <= 0) return true;
    return commitReleased(sync, this.walSenders(), lsn);
  }
}
