/**
 * The world every simulated server of one cluster lives in: one clock, the replication ticks
 * that advance streaming everywhere at once, the network between servers (cuts and refusals),
 * the seeded randomness that makes system identifiers, and the clients' commits waiting for
 * their acknowledgement. Keeping all of this in one owner is what makes a run reproducible:
 * the same seed and the same calls give the same run.
 */
import type { Clock } from '../../actors/clock.ts';
import { seededRandom } from '../random.ts';
import { SimulatedPostgres } from './postgres.ts';
import {
  type Commit,
  defaultDurations,
  type Promotion,
  type SimulatedDurations,
  type SimulatedWorldOptions,
} from './types.ts';
import { defaultWalSenderTiming, type WalSenderTiming } from './walsenders.ts';

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
  readonly promotions: Promotion[] = [];
  /** Called at every promotion (the simulator notes what the promoting node could record). */
  onPromote: ((p: Promotion) => void) | null = null;
  /** When each link (`a|b`) or refusal (`to<-from`) last changed (clock ms); absent: never. */
  private readonly changedAt = new Map<string, number>();

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
    this.changedAt.set(SimulatedWorld.pair(a, b), this.clock.now());
  }

  heal(a: string, b: string): void {
    if (this.cuts.delete(SimulatedWorld.pair(a, b)))
      this.changedAt.set(SimulatedWorld.pair(a, b), this.clock.now());
  }

  healAll(): void {
    for (const k of [...this.cuts, ...this.refusals]) this.changedAt.set(k, this.clock.now());
    this.cuts.clear();
    this.refusals.clear();
  }

  /** Since when `from` has been able to connect to `to` without a break (null: it cannot now). */
  reachableSince(to: string, from: string): number | null {
    if (!this.accepts(to, from)) return null;
    return Math.max(
      this.changedAt.get(SimulatedWorld.pair(to, from)) ?? 0,
      this.changedAt.get(`${to}<-${from}`) ?? 0,
    );
  }

  linked(a: string, b: string): boolean {
    return a === b || !this.cuts.has(SimulatedWorld.pair(a, b));
  }

  /** `to` answers connections from `from` with a refusal (RST), alive as it is. */
  refuse(to: string, from: string): void {
    this.refusals.add(`${to}<-${from}`);
    this.changedAt.set(`${to}<-${from}`, this.clock.now());
  }

  unrefuse(to: string): void {
    for (const r of [...this.refusals])
      if (r.startsWith(`${to}<-`)) {
        this.refusals.delete(r);
        this.changedAt.set(r, this.clock.now());
      }
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
