/**
 * The real PostgreSQL actor: drives initdb, pg_ctl, pg_basebackup, pg_rewind and
 * pg_controldata of one data directory, and talks SQL to it over its unix socket.
 *
 * Privileges: PostgreSQL refuses root. With `runAs` (a root process, e.g. tests) every binary
 * goes through `runuser -u <user> --` and every file written here is chowned to that user;
 * without it the agent is assumed to run as the database owner already.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { type FenceOutcome, type FenceRule, type FenceTarget, readAddressBook } from '../cluster/orphans.ts';
import type { BootstrapCommand, ReplicaPlan } from '../cluster/replica-methods.ts';
import type { SlotPlan } from '../cluster/replication-slots.ts';
import type { NodeConfig } from '../config/types.ts';
import { type Clock, monotonicNow, systemClock } from './clock.ts';
import { renderPgpass, socketDirFor } from './postgres/conf.ts';
import { connectionConfig, SqlPool } from './postgres/connection.ts';
import { inspectDataDir, isCleanShutdown } from './postgres/controldata.ts';
import { customBootstrap } from './postgres/custom-bootstrap.ts';
import { readDynamicCache, writeDynamicCache } from './postgres/dynamic-cache.ts';
import {
  FENCE_MARKER,
  FENCED_SETTING,
  fencePostgres,
  liftFence,
  readAddressBookFile,
  readFenceMarker,
  writeAddressBookFile,
} from './postgres/fence.ts';
import { type BootstrapStart, configureDataDir, OwnedFiles, postmasterPid } from './postgres/files.ts';
import { initdbCluster } from './postgres/initdb.ts';
import { pgCtlStart } from './postgres/pg-ctl.ts';
import { ProcessWatch, processStartEpoch, sameProcess } from './postgres/postmaster-pid.ts';
import { ReplayTimelines } from './postgres/replay-timeline.ts';
import { createReplica, type DataDirHost } from './postgres/replica.ts';
import { type RewindTarget, runPgRewind, singleUserRecovery } from './postgres/rewind.ts';
import { type RunAs, Runner } from './postgres/run.ts';
import { syncSlots } from './postgres/slots.ts';
import { notRunningStatus, STATUS_SQL, type StatusRow, statusFromRow } from './postgres/status-query.ts';
import { readTimelineHistory } from './postgres/timeline-history.ts';
import { signalAndWait, waitFor } from './postgres/wait.ts';
import {
  type DataDirState,
  followingAsPrimary,
  type Postgres,
  type PostgresStatus,
  type StartRole,
  type StopMode,
  type StopResult,
  type UpstreamTarget,
} from './postgres.ts';

export type { RunAs };

export interface PostgresProcessOptions {
  config: NodeConfig;
  runAs?: RunAs;
  log?: (msg: string) => void;
  /** Bound for initdb, pg_basebackup, pg_rewind and single-user recovery (default one hour). */
  longOperationTimeoutMs?: number;
}

export class PostgresProcess implements Postgres {
  private config: NodeConfig;
  private readonly files: OwnedFiles;
  private readonly log: (msg: string) => void;
  private readonly runner: Runner;
  private readonly longMs: number;
  private readonly clock: Clock = systemClock;
  private readonly sql: SqlPool;
  /** How the data dir was last configured, so a reload rewrites the same role. */
  private lastRole: { standby: boolean; upstream: UpstreamTarget | null } | null = null;
  private readonly replayTimelines: ReplayTimelines;
  /**
   * The postmaster postmaster.pid named when last read, its start time, and a watch of it
   * (postmasterRunning).
   */
  private postmaster: { pid: number; startEpoch: number | null; watch: ProcessWatch | null } | null = null;
  /** The last reason postmaster.pid's live PID was not taken for ours (logged once). */
  private lastRefusal: string | undefined;

  constructor(opts: PostgresProcessOptions) {
    this.config = opts.config;
    this.files = new OwnedFiles(opts.runAs);
    this.log = opts.log ?? (() => {});
    this.runner = new Runner(opts.config.postgresql.bin_dir, opts.runAs);
    this.longMs = opts.longOperationTimeoutMs ?? 3_600_000;
    this.sql = new SqlPool(() => this.config, this.log);
    this.replayTimelines = new ReplayTimelines(this.log);
  }

  private get dir(): string {
    return path.resolve(this.config.postgresql.data_dir);
  }

  // ---- data directory -------------------------------------------------------------------

  /** Effective server parameters (dynamic /config merged with local); used from the next write of postgresql.conf. */
  setParameters(parameters: Record<string, string | number | boolean>): void {
    this.config = {
      ...this.config,
      postgresql: { ...this.config.postgresql, parameters: { ...parameters } },
    };
  }

  async dataDir(): Promise<DataDirState> {
    const state = await inspectDataDir(this.runner, this.dir, this.log);
    if (state.initialized)
      state.knownServers = readAddressBook(await readAddressBookFile(this.dir), this.config.name);
    return state;
  }

  async liftOwnFence(): Promise<string | null> {
    const note = await readFenceMarker(this.dir);
    if (note === null) return null;
    await this.sql.get().query(`ALTER SYSTEM RESET ${FENCED_SETTING}`);
    await this.sql.get().query('SELECT pg_catalog.pg_reload_conf()');
    await fs.rm(path.join(this.dir, FENCE_MARKER), { force: true });
    return note;
  }

  writeKnownServers(book: readonly FenceTarget[]): Promise<boolean> {
    return writeAddressBookFile(this.dir, book, this.files);
  }

  readDynamicConfigCache(): Promise<Record<string, unknown> | null> {
    return readDynamicCache(this.dir);
  }

  async writeDynamicConfigCache(data: Record<string, unknown>): Promise<boolean> {
    if (!(await this.dataDir()).initialized) return false;
    await writeDynamicCache(this.dir, data, this.files);
    return true;
  }

  async removeDataDir(): Promise<void> {
    const pid = await this.postmasterPid();
    if (pid !== null) throw new Error(`refusing to remove ${this.dir}: postmaster ${pid} is running`);
    await this.sql.drop();
    await fs.rm(this.dir, { recursive: true, force: true });
  }

  // ---- bootstrap ------------------------------------------------------------------------

  async initdb(): Promise<void> {
    await initdbCluster(this.host(), (await this.dataDir()).initialized);
  }

  customBootstrap(method: BootstrapCommand): Promise<void> {
    return customBootstrap(this.host(), method, this.clock);
  }

  createReplica(plan: ReplicaPlan): Promise<string> {
    return createReplica(this.host(), plan);
  }

  async rewind(from: UpstreamTarget): Promise<boolean> {
    const state = await this.dataDir();
    if (!state.initialized) throw new Error(`rewind: ${this.dir} is empty`);
    const pid = await this.postmasterPid();
    if (pid !== null) throw new Error(`rewind: postmaster ${pid} is still running`);
    if (!isCleanShutdown(state.clusterState))
      await singleUserRecovery(this.rewindTarget(), state.clusterState);
    const pgpass = await this.writePgpass();
    if (!(await runPgRewind(this.rewindTarget(), from, pgpass))) return false;
    await this.configure(true, from);
    return true;
  }

  // ---- lifecycle ------------------------------------------------------------------------

  async start(role: StartRole, upstream: UpstreamTarget | null, timeoutSeconds: number): Promise<void> {
    const pid = await this.postmasterPid();
    if (pid !== null) throw new Error(`start: postmaster ${pid} is already running on ${this.dir}`);
    // Only before a standby's start: lifted under a running primary, or before starting one whose
    // lock may be stale, it would be writable again (a leader lifts its own: liftOwnFence).
    const fence = role === 'replica' ? await liftFence(this.files, this.dir) : null;
    if (fence) this.log(`lifted the fence on ${this.dir} before starting it as a standby (${fence})`);
    const socketDir = socketDirFor(this.config);
    if (this.config.postgresql.parameters['unix_socket_directories'] === undefined) {
      await this.files.mkdir(socketDir, 0o700);
    }
    await this.configure(role === 'replica', upstream);
    const started = monotonicNow(this.clock);
    await pgCtlStart(this.runner, this.dir, this.config, timeoutSeconds);
    const left = Math.max(1_000, timeoutSeconds * 1000 - (monotonicNow(this.clock) - started));
    await waitFor(this.clock, 'accepting connections', left, async () => {
      await this.sql.get().query('SELECT 1');
      return true;
    });
  }

  async stop(mode: StopMode, timeoutSeconds: number): Promise<StopResult> {
    // Our own idle connections would keep a smart shutdown waiting.
    await this.sql.drop();
    const pid = await this.postmasterPid();
    // Signal the postmaster ourselves and watch it closely (wait.ts).
    if (pid !== null) await signalAndWait(this.clock, pid, mode, timeoutSeconds, () => this.postmasterPid());
    const state = await this.dataDir();
    // After an immediate stop the last checkpoint is an old one: not a shutdown position.
    return {
      checkpointLsn: isCleanShutdown(state.clusterState) ? state.checkpointLsn : null,
      signalled: pid !== null,
    };
  }

  async promote(timeoutSeconds: number): Promise<void> {
    // Idempotent: a node asked to promote that already runs as primary is where it should be.
    const rec = await this.sql
      .get()
      .query<{ rec: boolean }>('SELECT pg_catalog.pg_is_in_recovery() AS rec')
      .catch(() => null);
    if (rec && !rec.rows[0]!.rec) return;
    // pg_promote over the connection we already have: no process to spawn, and we watch the end
    // of recovery every 10 ms instead of pg_ctl's 100.
    await this.sql.get().query('SELECT pg_catalog.pg_promote(false)');
    await waitFor(
      this.clock,
      'end of recovery',
      timeoutSeconds * 1000,
      async () => {
        const r = await this.sql
          .get()
          .query<{ rec: boolean }>('SELECT pg_catalog.pg_is_in_recovery() AS rec');
        return !r.rows[0]!.rec;
      },
      10,
    );
  }

  /**
   * Since PostgreSQL 13 primary_conninfo and primary_slot_name take effect on reload (the WAL
   * receiver restarts), so a standby only needs its recovery file rewritten. A primary cannot
   * become a standby without a restart.
   */
  /**
   * New local configuration (after SIGHUP or POST /reload): rewrite postgresql.conf and
   * pg_hba.conf for the role it runs in and signal the postmaster. Parameters that need a
   * restart then show up as pending_restart.
   */
  async reload(config: NodeConfig, parameters: Record<string, string | number | boolean>): Promise<boolean> {
    this.config = { ...config, postgresql: { ...config.postgresql, parameters: { ...parameters } } };
    if ((await this.postmasterPid()) === null || !this.lastRole) return false;
    await this.configure(this.lastRole.standby, this.lastRole.upstream);
    await this.sql.get().query('SELECT pg_catalog.pg_reload_conf()');
    return true;
  }

  async follow(upstream: UpstreamTarget, timeoutSeconds: number): Promise<void> {
    if ((await this.postmasterPid()) === null) return this.start('replica', upstream, timeoutSeconds);
    const r = await this.sql.get().query<{ rec: boolean }>('SELECT pg_catalog.pg_is_in_recovery() AS rec');
    // Re-pointing is all follow() does: a primary is demoted by the node machine, never here.
    if (!r.rows[0]!.rec) throw new Error(followingAsPrimary(this.config.name));
    await this.configure(true, upstream);
    await this.sql.get().query('SELECT pg_catalog.pg_reload_conf()');
  }

  // ---- SQL ------------------------------------------------------------------------------

  async status(): Promise<PostgresStatus> {
    if ((await this.postmasterPid()) === null) {
      this.replayTimelines.forget();
      return notRunningStatus();
    }
    try {
      const res = await this.sql.get().query<StatusRow>(STATUS_SQL);
      const status = statusFromRow(res.rows[0]!);
      if (status.inRecovery && status.replicationState !== 'streaming') {
        // Not streaming: the query's timeline is pg_control's, which lags a switch (replay-timeline.ts).
        status.timeline = await this.replayTimelines.of(status, connectionConfig(this.config));
      }
      return status;
    } catch (err) {
      const pid = await this.postmasterPid();
      if (pid === null) return notRunningStatus();
      throw new Error(`postmaster ${pid} is running but not answering: ${(err as Error).message}`);
    }
  }

  /**
   * The postmaster found last is checked through /proc alone (a descriptor held on it, or its
   * PID and start time); only when it is gone is postmaster.pid read again. Asked every second at
   * rest: reading the file each time (four thread-pool round trips) was most of what an idle
   * agent spent on it.
   */
  async postmasterRunning(): Promise<boolean> {
    const known = this.postmaster;
    if (known && (known.watch ? known.watch.alive() : sameProcess(known.pid, known.startEpoch))) return true;
    return (await this.postmasterPid()) !== null;
  }

  syncSlots(plan: SlotPlan): Promise<string[]> {
    return syncSlots(this.sql.get(), plan, async (database) => {
      const client = new pg.Client({ ...connectionConfig(this.config), database });
      client.on('error', () => {});
      await client.connect();
      return client;
    });
  }

  fence(target: FenceTarget, rule: FenceRule): Promise<FenceOutcome> {
    return fencePostgres(target, rule, this.config.postgresql.authentication.superuser, this.config.name);
  }

  async checkpoint(): Promise<void> {
    // A checkpoint may take long: its own connection, no pool query timeout.
    const client = new pg.Client(connectionConfig(this.config));
    // PostgreSQL stopping meanwhile ends the session: outside the query that is an 'error' event,
    // and an unheard one would end the agent. The query's own failure is what counts.
    client.on('error', () => {});
    await client.connect();
    try {
      await client.query('CHECKPOINT');
    } finally {
      await client.end();
    }
  }

  async timelineHistory(): Promise<Array<[number, number, string]>> {
    const running = (await this.postmasterPid()) !== null;
    const tli = running ? (await this.status()).timeline : (await this.dataDir()).timeline;
    return readTimelineHistory(this.dir, tli);
  }

  async close(): Promise<void> {
    this.postmaster?.watch?.close();
    this.postmaster = null;
    await this.sql.drop();
  }

  // ---- helpers --------------------------------------------------------------------------

  /** What the steps that make a data directory (replica.ts, custom-bootstrap.ts) may use. */
  private host(): DataDirHost {
    return {
      dir: this.dir,
      config: this.config,
      runner: this.runner,
      files: this.files,
      longMs: this.longMs,
      log: this.log,
      holdsCluster: async () => (await this.dataDir()).systemIdentifier !== null,
      postmasterPid: () => this.postmasterPid(),
      writePgpass: () => this.writePgpass(),
      configure: (standby, upstream, overrides, bootstrap) =>
        this.configure(standby, upstream, overrides, bootstrap),
    };
  }

  private rewindTarget(): RewindTarget {
    return { runner: this.runner, dir: this.dir, config: this.config, longMs: this.longMs, log: this.log };
  }

  private configure(
    standby: boolean,
    upstream: UpstreamTarget | null,
    overrides?: Record<string, string | number | boolean>,
    bootstrap?: BootstrapStart,
  ) {
    if (!overrides) this.lastRole = { standby, upstream };
    return configureDataDir(this.files, this.config, standby, upstream, overrides, bootstrap);
  }

  private async postmasterPid(): Promise<number | null> {
    const { pid, refused } = await postmasterPid(this.dir);
    // Said once per reason: a postmaster of ours judged foreign would get a second one beside it.
    if (refused !== undefined && refused !== this.lastRefusal)
      this.log(`postmaster.pid: ${refused}; taken as not running`);
    this.lastRefusal = refused;
    const known = this.postmaster;
    if (known?.pid !== pid || (known.watch !== null && !known.watch.alive())) {
      known?.watch?.close();
      const startEpoch = pid === null ? null : processStartEpoch(pid);
      this.postmaster = pid === null ? null : { pid, startEpoch, watch: ProcessWatch.open(pid, startEpoch) };
    }
    return pid;
  }

  private async writePgpass(): Promise<string> {
    const file = path.resolve(this.config.postgresql.pgpass);
    await this.files.write(file, renderPgpass(this.config), 0o600);
    return file;
  }
}
