/**
 * The simulated PostgreSQL the agents drive: the real process's `Postgres` contract, so a cluster
 * of production Agents runs in virtual time — initdb, pg_basebackup and pg_rewind on the WAL model,
 * the postmaster's start, stop, promotion and re-pointing with their durations and failure modes,
 * parameters and slots. No wall clock nor Math.random: the same seed and calls give the same run.
 */

import {
  type DataDirState,
  followingAsPrimary,
  type Postgres,
  type StartRole,
  type StopMode,
  type StopResult,
  type UpstreamTarget,
} from '../../actors/postgres.ts';
import {
  FENCE_HANDSHAKE_MS,
  FENCE_SESSION_WAIT_MS,
  type FenceOutcome,
  type FenceRule,
  type FenceTarget,
  fenceBudgetMs,
} from '../../cluster/orphans.ts';
import type { BootstrapCommand, ReplicaPlan } from '../../cluster/replica-methods.ts';
import type { SlotPlan } from '../../cluster/replication-slots.ts';
import type { NodeConfig } from '../../config/types.ts';
import { type Proc, SimulatedServer } from './server.ts';
import {
  CHECKPOINT_RECORD,
  controlData,
  END_OF_RECOVERY_RECORD,
  FIRST_LSN,
  historyLines,
  lastCommonSegment,
  openCopy,
} from './wal.ts';
import { WalSenderTable } from './walsenders.ts';

export class SimulatedPostgres extends SimulatedServer implements Postgres {
  /**
   * Every synchronous_standby_names a reload gave this server while it was writable, in order:
   * a value in effect for no virtual time at all still releases the commits waiting for a
   * standby (settleCommits), which sampling the current value between steps cannot see.
   */
  readonly reloadedWhileWritable: string[] = [];

  // ---- the Postgres contract -----------------------------------------------------------------

  async dataDir(): Promise<DataDirState> {
    const state = controlData(this.data);
    if (this.data?.knownServers) state.knownServers = structuredClone(this.data.knownServers);
    return state;
  }

  async liftOwnFence(): Promise<string | null> {
    if (!this.data?.fenced) return null;
    if (!this.proc?.ready) throw new Error(`liftOwnFence: ${this.name} is not running`);
    this.data.fenced = false;
    return 'fenced';
  }

  async writeKnownServers(book: readonly FenceTarget[]): Promise<boolean> {
    if (!this.data) return false;
    this.data.knownServers = structuredClone([...book]);
    return true;
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

  /** The simulator's clusters configure no replica methods: pg_basebackup from the leader only. */
  async createReplica(plan: ReplicaPlan): Promise<string> {
    const only = plan.methods.length === 1 && plan.methods[0]!.kind === 'basebackup';
    if (!plan.from || !only)
      throw new Error(`createReplica: only pg_basebackup is modelled: ${JSON.stringify(plan)}`);
    await this.basebackup(plan.from);
    return 'basebackup';
  }

  async customBootstrap(m: BootstrapCommand): Promise<void> {
    throw new Error(`customBootstrap: bootstrap.method ${m.name} is not modelled`);
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
      segments: openCopy(sd.segments),
      lsn: sd.lsn,
      clusterState: 'in archive recovery',
      checkpointLsn: sd.lsn,
      slots: new Set(),
      // pg_basebackup copies the source's files, pgwarden's address book among them.
      ...(sd.knownServers ? { knownServers: structuredClone(sd.knownServers) } : {}),
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
    // pgwarden lifts a fence before a standby's start (src/actors/postgres/fence.ts, liftFence).
    if (role === 'replica') this.data.fenced = false;
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

  async stop(mode: StopMode, timeoutSeconds: number): Promise<StopResult> {
    const proc = this.proc;
    if (!proc) return { checkpointLsn: this.cleanCheckpoint(), signalled: false };
    // From the signal on, the postmaster refuses connections and ends the sessions (fast and
    // immediate alike): no more commits, while the shutdown checkpoint takes its time.
    proc.stopping = true;
    this.world.settleCommits();
    const deadline = this.world.clock.now() + timeoutSeconds * 1000;
    await this.world.sleep(this.duration('stopMs'));
    if (this.proc !== proc || !this.data) return { checkpointLsn: this.cleanCheckpoint(), signalled: true };
    const d = this.data;
    if (mode === 'immediate' || !proc.ready) {
      this.crash();
      return { checkpointLsn: null, signalled: true };
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
        if (this.proc !== proc || !this.data)
          return { checkpointLsn: this.cleanCheckpoint(), signalled: true };
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
    return { checkpointLsn: d.checkpointLsn, signalled: true };
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
    const fenceable = this.fenceableOrphans();
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
    const writableBeside = fenceable.filter((o) => o.writable()).map((o) => o.name);
    const p = { node: this.name, at: this.world.clock.now(), timeline: tl, segment, writableBeside };
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
    this.proc.receiverFrom = this.world.clock.now() + this.duration('repointMs');
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
    const common = lastCommonSegment(d.segments, sd.segments);
    if (common < 0) return false;
    // Same timeline as the source: nothing pg_rewind can do about a target that is ahead.
    if (common === sd.segments.length - 1) {
      const canFollow = this.compatibleWith(src);
      if (canFollow) d.mayHaveForked = false;
      return canFollow;
    }
    d.segments = openCopy(sd.segments);
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

  /** Physical slots only: the simulated clusters configure no logical ones. An active one stays. */
  async syncSlots(plan: SlotPlan): Promise<string[]> {
    if (!this.proc?.ready || !this.data) throw new Error(`syncSlots: ${this.name} is not running`);
    const active = new Set(this.proc.senders.all().map((e) => e.slot));
    const next = new Set(plan.physical);
    const inUse = [...this.data.slots].filter((s) => active.has(s) && !next.has(s));
    for (const s of inUse) next.add(s);
    this.data.slots = next;
    return inUse;
  }

  /**
   * Other servers accepting writes now that have been running and reachable from this one for the
   * whole fence budget, and open a session within the promotion's wait: a promotion beginning now
   * could have fenced them first.
   */
  private fenceableOrphans(): SimulatedPostgres[] {
    const wait = FENCE_SESSION_WAIT_MS.promotion;
    const since = this.world.clock.now() - fenceBudgetMs({ sessionWaitMs: wait });
    return this.world.all().filter((o) => {
      if (o === this || !o.writable() || !o.proc || o.proc.startedAt > since) return false;
      if (o.duration('sessionMs') > wait) return false;
      const reachable = this.world.reachableSince(o.name, this.name);
      return reachable !== null && reachable <= since;
    });
  }

  async fence(target: FenceTarget, rule: FenceRule): Promise<FenceOutcome> {
    const at = `${target.host}:${target.port}`;
    const t = this.world.byAddress(target.host, target.port);
    if (t && !this.world.linked(t.name, this.name)) {
      // Nothing answers across a cut, not even the TCP handshake: the attempt runs out its timeout.
      await this.world.sleep(FENCE_HANDSHAKE_MS);
      throw new Error(`fence: connection to ${at} timed out`);
    }
    const reachable = () =>
      t?.proc?.ready && !t.proc.stopping && t.data && this.world.accepts(t.name, this.name) ? t : null;
    if (!reachable()) throw new Error(`fence: could not connect to server at ${at}`);
    // The target's own slowness to open a session; past the rule's wait the attempt is given up.
    const session = t!.duration('sessionMs');
    if (session > rule.sessionWaitMs) {
      await this.world.sleep(rule.sessionWaitMs);
      throw new Error(`fence: connection to ${at}: timeout expired`);
    }
    await this.world.sleep(session + this.duration('fenceMs'));
    const s = reachable();
    if (!s?.proc || !s.data) throw new Error(`fence: connection to ${at} lost`);
    if (s.proc.role !== 'primary') return { fenced: false, reason: 'in recovery' };
    if (rule.systemIdentifier !== null && s.data.sysid !== rule.systemIdentifier)
      return { fenced: false, reason: `another cluster (system identifier ${s.data.sysid})` };
    const tli = s.data.segments.at(-1)!.tl;
    if (rule.belowTimeline !== null && tli >= rule.belowTimeline)
      return { fenced: false, reason: `a primary on timeline ${tli}, not behind ours` };
    if (s.data.fenced) return { fenced: false, reason: 'read-only already' };
    s.data.fenced = true;
    this.world.settleCommits();
    return { fenced: true, terminated: 0, lsn: s.data.lsn };
  }

  async checkpoint(): Promise<void> {
    if (!this.proc?.ready || !this.data) throw new Error(`checkpoint: ${this.name} is not running`);
    const ms = this.duration('checkpointMs');
    if (ms > 0) await this.world.sleep(ms);
    if (!this.proc?.ready || !this.data) throw new Error(`checkpoint: ${this.name} stopped meanwhile`);
    this.data.checkpointLsn = this.proc.role === 'primary' ? this.data.lsn : this.proc.replayed;
  }

  async timelineHistory(): Promise<Array<[number, number, string]>> {
    return historyLines(this.data);
  }

  async reload(_config: NodeConfig, parameters: Record<string, string | number | boolean>): Promise<boolean> {
    this.setParameters(parameters);
    if (!this.proc) return false;
    if (this.writable())
      this.reloadedWhileWritable.push(String(parameters['synchronous_standby_names'] ?? ''));
    this.params = { ...this.fileParams };
    this.world.settleCommits();
    return true;
  }

  /** Written for the next start only, as the real one does: a running postmaster keeps its own. */
  setParameters(parameters: Record<string, string | number | boolean>): void {
    this.fileParams = { ...parameters };
    if (!this.proc) this.params = { ...this.fileParams };
  }

  async close(): Promise<void> {}
}
