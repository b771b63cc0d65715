/**
 * The real PostgreSQL actor: drives initdb, pg_ctl, pg_basebackup, pg_rewind and
 * pg_controldata of one data directory, and talks SQL to it over its unix socket.
 *
 * Privileges: PostgreSQL refuses root. With `runAs` (a root process, e.g. tests) every binary
 * goes through `runuser -u <user> --` and every file written here is chowned to that user;
 * without it the agent is assumed to run as the database owner already.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { parseLsn } from '../cluster/lsn.ts';
import type { NodeConfig } from '../config/types.ts';
import { type Clock, monotonicNow, systemClock } from './clock.ts';
import {
  initdbArgs,
  logFileFor,
  renderPgpass,
  rewindCredentials,
  socketDirFor,
  conninfo as toConninfo,
} from './postgres/conf.ts';
import { dataDirStateFromControlData, isCleanShutdown } from './postgres/controldata.ts';
import { readDynamicCache, writeDynamicCache } from './postgres/dynamic-cache.ts';
import { configureDataDir, OwnedFiles, postmasterPid } from './postgres/files.ts';
import { replayTimeline } from './postgres/replay-timeline.ts';
import { createRoles } from './postgres/roles.ts';
import { CommandError, type RunAs, Runner, tailLines } from './postgres/run.ts';
import { notRunningStatus, STATUS_SQL, type StatusRow, statusFromRow } from './postgres/status-query.ts';
import {
  type DataDirState,
  followingAsPrimary,
  type Postgres,
  type PostgresStatus,
  type StartRole,
  type StopMode,
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

const QUICK_MS = 30_000;
const POLL_MS = 50;

/** What pg_ctl stop -m sends: smart = SIGTERM, fast = SIGINT, immediate = SIGQUIT. */
const STOP_SIGNAL: Record<StopMode, NodeJS.Signals> = {
  smart: 'SIGTERM',
  fast: 'SIGINT',
  immediate: 'SIGQUIT',
};

/** pg_rewind failures that say nothing about the data dir: retry later rather than give up on it. */
const REWIND_TRANSIENT =
  /could not connect|connection to server|timeout expired|password authentication failed/i;

export class PostgresProcess implements Postgres {
  private config: NodeConfig;
  private readonly files: OwnedFiles;
  private readonly log: (msg: string) => void;
  private readonly runner: Runner;
  private readonly longMs: number;
  private readonly clock: Clock = systemClock;
  private pool: pg.Pool | null = null;
  /** How the data dir was last configured, so a reload rewrites the same role. */
  private lastRole: { standby: boolean; upstream: UpstreamTarget | null } | null = null;
  /** The last IDENTIFY_SYSTEM error, logged once until it changes or an answer comes. */
  private identifyFailure: string | null = null;
  /** The timeline IDENTIFY_SYSTEM gave for one replayed position and pg_control timeline. */
  private replayTimelineCache: { key: string; timeline: number } | null = null;

  constructor(opts: PostgresProcessOptions) {
    this.config = opts.config;
    this.files = new OwnedFiles(opts.runAs);
    this.log = opts.log ?? (() => {});
    this.runner = new Runner(opts.config.postgresql.bin_dir, opts.runAs);
    this.longMs = opts.longOperationTimeoutMs ?? 3_600_000;
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
    let entries: string[];
    try {
      entries = await fs.readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return uninitialized();
      throw err;
    }
    if (entries.length === 0) return uninitialized();
    const res = await this.runner.run('pg_controldata', ['-D', this.dir], { timeoutMs: QUICK_MS });
    if (res.code !== 0) {
      // Something is there but it is not a usable cluster: not empty, so never initdb over it.
      this.log(`pg_controldata failed on ${this.dir}: ${tailLines(res.stderr, 3)}`);
      return {
        initialized: true,
        systemIdentifier: null,
        clusterState: null,
        timeline: null,
        checkpointLsn: null,
      };
    }
    return dataDirStateFromControlData(res.stdout);
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
    await this.dropPool();
    await fs.rm(this.dir, { recursive: true, force: true });
  }

  // ---- bootstrap ------------------------------------------------------------------------

  async initdb(): Promise<void> {
    if ((await this.dataDir()).initialized) throw new Error(`initdb: ${this.dir} is not empty`);
    await this.files.mkdir(this.dir, 0o700);
    const su = this.config.postgresql.authentication.superuser;
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'pgwarden-initdb-'));
    await this.files.chown(tmp);
    try {
      const args = ['-D', this.dir, `--username=${su.username}`];
      if (su.password !== undefined) {
        const pwfile = path.join(tmp, 'pwfile');
        await this.files.write(pwfile, `${su.password}\n`, 0o600);
        args.push(`--pwfile=${pwfile}`);
      }
      args.push(...initdbArgs(this.config.bootstrap.initdb));
      this.log(`initdb ${this.dir}`);
      // The cluster's locale comes from the environment, so no forced C locale here.
      await this.runner.check('initdb', args, { timeoutMs: this.longMs, englishMessages: false });
      // Socket-only start in a private directory: nobody else can reach it while roles are created.
      await this.configure(false, null, { listen_addresses: '', unix_socket_directories: tmp });
      await this.pgCtlStart(60);
      try {
        await createRoles(this.config, tmp);
      } finally {
        await this.runner.run('pg_ctl', ['stop', '-D', this.dir, '-m', 'fast', '-w', '-t', '60'], {
          timeoutMs: 70_000,
        });
      }
      await this.configure(false, null);
    } finally {
      await fs.rm(tmp, { recursive: true, force: true });
    }
  }

  async basebackup(from: UpstreamTarget): Promise<void> {
    if ((await this.dataDir()).initialized) throw new Error(`basebackup: ${this.dir} is not empty`);
    await this.files.mkdir(this.dir, 0o700);
    const repl = this.config.postgresql.authentication.replication;
    const pgpass = await this.writePgpass();
    this.log(`pg_basebackup from ${from.host}:${from.port} into ${this.dir}`);
    const args = ['-D', this.dir, '-X', 'stream', '-c', 'fast', '--no-password'];
    args.push('-h', from.host, '-p', String(from.port), '-U', repl.username);
    await this.runner.check('pg_basebackup', args, { timeoutMs: this.longMs, env: { PGPASSFILE: pgpass } });
    // pg_basebackup copies the source's group-access mode; the server wants 0700 or 0750.
    await fs.chmod(this.dir, 0o700);
    await this.configure(true, from);
  }

  async rewind(from: UpstreamTarget): Promise<boolean> {
    const state = await this.dataDir();
    if (!state.initialized) throw new Error(`rewind: ${this.dir} is empty`);
    const pid = await this.postmasterPid();
    if (pid !== null) throw new Error(`rewind: postmaster ${pid} is still running`);
    if (!isCleanShutdown(state.clusterState)) await this.singleUserRecovery(state.clusterState);
    const cred = rewindCredentials(this.config);
    const source = toConninfo({
      host: from.host,
      port: from.port,
      user: cred.username,
      dbname: 'postgres',
      sslmode: 'prefer',
      connect_timeout: 10,
    });
    const pgpass = await this.writePgpass();
    this.log(`pg_rewind ${this.dir} from ${from.host}:${from.port}`);
    const res = await this.runner.run('pg_rewind', ['-D', this.dir, `--source-server=${source}`], {
      timeoutMs: this.longMs,
      env: { PGPASSFILE: pgpass },
    });
    const output = `${res.stdout}\n${res.stderr}`;
    if (res.code !== 0 || res.timedOut) {
      if (res.timedOut || REWIND_TRANSIENT.test(output)) throw new CommandError('pg_rewind', res);
      this.log(`pg_rewind failed: ${tailLines(output, 5)}`);
      return false;
    }
    this.log(`pg_rewind: ${tailLines(output, 2)}`);
    await this.configure(true, from);
    return true;
  }

  /**
   * pg_rewind needs a cleanly shut down target. Crash recovery in single-user mode gets there
   * without opening the old primary to clients; recovery signal files must go first, because
   * a single-user server refuses standby mode.
   */
  private async singleUserRecovery(clusterState: string | null): Promise<void> {
    this.log(`${this.dir} is "${clusterState}": running crash recovery in single-user mode`);
    await fs.rm(path.join(this.dir, 'standby.signal'), { force: true });
    await fs.rm(path.join(this.dir, 'recovery.signal'), { force: true });
    await this.runner.check('postgres', ['--single', '-D', this.dir, '-c', 'archive_mode=off', 'postgres'], {
      timeoutMs: this.longMs,
    });
  }

  // ---- lifecycle ------------------------------------------------------------------------

  async start(role: StartRole, upstream: UpstreamTarget | null, timeoutSeconds: number): Promise<void> {
    const pid = await this.postmasterPid();
    if (pid !== null) throw new Error(`start: postmaster ${pid} is already running on ${this.dir}`);
    const socketDir = socketDirFor(this.config);
    if (this.config.postgresql.parameters['unix_socket_directories'] === undefined) {
      await this.files.mkdir(socketDir, 0o700);
    }
    await this.configure(role === 'replica', upstream);
    const started = monotonicNow(this.clock);
    await this.pgCtlStart(timeoutSeconds);
    const left = Math.max(1_000, timeoutSeconds * 1000 - (monotonicNow(this.clock) - started));
    await this.waitFor('accepting connections', left, async () => {
      await this.getPool().query('SELECT 1');
      return true;
    });
  }

  private async pgCtlStart(timeoutSeconds: number): Promise<void> {
    const logFile = logFileFor(this.config);
    const t = String(Math.max(1, Math.ceil(timeoutSeconds)));
    const res = await this.runner.run('pg_ctl', ['start', '-D', this.dir, '-w', '-t', t, '-l', logFile], {
      timeoutMs: timeoutSeconds * 1000 + 10_000,
    });
    if (res.code === 0 && !res.timedOut) return;
    const serverLog = await fs.readFile(logFile, 'utf8').catch(() => '');
    throw new CommandError(
      'pg_ctl start',
      res,
      serverLog ? `${logFile}:\n${tailLines(serverLog, 12)}` : undefined,
    );
  }

  async stop(mode: StopMode, timeoutSeconds: number): Promise<{ checkpointLsn: number | null }> {
    // Our own idle connections would keep a smart shutdown waiting.
    await this.dropPool();
    const pid = await this.postmasterPid();
    if (pid !== null) {
      // Signal the postmaster ourselves and watch it closely: pg_ctl looks only every 100 ms,
      // and during a switchover every one of those milliseconds is write outage.
      try {
        process.kill(pid, STOP_SIGNAL[mode]);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
      }
      const deadline = monotonicNow(this.clock) + timeoutSeconds * 1000;
      while ((await this.postmasterPid()) === pid) {
        if (monotonicNow(this.clock) > deadline) {
          throw new Error(
            `pg_ctl stop -m ${mode}: postmaster ${pid} still running after ${timeoutSeconds} s`,
          );
        }
        await new Promise((r) => this.clock.setTimeout(r, 10));
      }
    }
    const state = await this.dataDir();
    // After an immediate stop the last checkpoint is an old one: not a shutdown position.
    return { checkpointLsn: isCleanShutdown(state.clusterState) ? state.checkpointLsn : null };
  }

  async promote(timeoutSeconds: number): Promise<void> {
    // Idempotent: a node asked to promote that already runs as primary is where it should be.
    const rec = await this.getPool()
      .query<{ rec: boolean }>('SELECT pg_catalog.pg_is_in_recovery() AS rec')
      .catch(() => null);
    if (rec && !rec.rows[0]!.rec) return;
    // pg_promote over the connection we already have: no process to spawn, and we watch the end
    // of recovery every 10 ms instead of pg_ctl's 100.
    await this.getPool().query('SELECT pg_catalog.pg_promote(false)');
    await this.waitFor(
      'end of recovery',
      timeoutSeconds * 1000,
      async () => {
        const r = await this.getPool().query<{ rec: boolean }>(
          'SELECT pg_catalog.pg_is_in_recovery() AS rec',
        );
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
  async reload(config: NodeConfig, parameters: Record<string, string | number | boolean>): Promise<void> {
    this.config = { ...config, postgresql: { ...config.postgresql, parameters: { ...parameters } } };
    if ((await this.postmasterPid()) === null || !this.lastRole) return;
    await this.configure(this.lastRole.standby, this.lastRole.upstream);
    await this.getPool().query('SELECT pg_catalog.pg_reload_conf()');
  }

  async follow(upstream: UpstreamTarget, timeoutSeconds: number): Promise<void> {
    if ((await this.postmasterPid()) === null) return this.start('replica', upstream, timeoutSeconds);
    const r = await this.getPool().query<{ rec: boolean }>('SELECT pg_catalog.pg_is_in_recovery() AS rec');
    // Re-pointing is all follow() does: a primary is demoted by the node machine, never here.
    if (!r.rows[0]!.rec) throw new Error(followingAsPrimary(this.config.name));
    await this.configure(true, upstream);
    await this.getPool().query('SELECT pg_catalog.pg_reload_conf()');
  }

  // ---- SQL ------------------------------------------------------------------------------

  async status(): Promise<PostgresStatus> {
    if ((await this.postmasterPid()) === null) {
      this.replayTimelineCache = null;
      return notRunningStatus();
    }
    try {
      const res = await this.getPool().query<StatusRow>(STATUS_SQL);
      const status = statusFromRow(res.rows[0]!);
      if (status.inRecovery && status.replicationState !== 'streaming') {
        // Not streaming: the query's timeline is pg_control's, which lags a switch (replay-timeline.ts).
        // Asked again only when the replayed position or pg_control's timeline moved (a stuck
        // replica is sampled every second; a replication connection each time is not free).
        // Unknown rather than a guess when IDENTIFY_SYSTEM fails: a lagging timeline made replicas
        // look diverged and be rewound for nothing; an unknown one only keeps this node from
        // looking fit to take over until it streams again.
        const key = `${status.replayedLsn}/${status.timeline}`;
        if (this.replayTimelineCache?.key === key) {
          status.timeline = this.replayTimelineCache.timeline;
          return status;
        }
        status.timeline = await replayTimeline({ ...this.connectionConfig(), query_timeout: 15_000 }).then(
          (tli) => {
            this.identifyFailure = null;
            this.replayTimelineCache = { key, timeline: tli };
            return tli;
          },
          (err) => {
            const message = (err as Error).message;
            if (message !== this.identifyFailure)
              this.log(`IDENTIFY_SYSTEM: ${message}; timeline unknown until it answers`);
            this.identifyFailure = message;
            return null;
          },
        );
      }
      return status;
    } catch (err) {
      const pid = await this.postmasterPid();
      if (pid === null) return notRunningStatus();
      throw new Error(`postmaster ${pid} is running but not answering: ${(err as Error).message}`);
    }
  }

  /** Never touches logical slots; drops only inactive physical ones (an active one is in use). */
  async syncSlots(slotNames: string[]): Promise<void> {
    const pool = this.getPool();
    const wanted = new Set(slotNames);
    const existing = await pool.query<{ slot_name: string; active: boolean }>(
      `SELECT slot_name, active FROM pg_catalog.pg_replication_slots WHERE slot_type = 'physical'`,
    );
    const have = new Set(existing.rows.map((r) => r.slot_name));
    for (const name of wanted) {
      if (have.has(name)) continue;
      // Reserve WAL now: the standby may be cloned from an older position than its first connect.
      await pool
        .query('SELECT pg_catalog.pg_create_physical_replication_slot($1, true)', [name])
        .catch(ignoreCodes('42710'));
    }
    for (const row of existing.rows) {
      if (wanted.has(row.slot_name) || row.active) continue;
      // 55006: became active meanwhile; 42704: someone else dropped it.
      await pool
        .query('SELECT pg_catalog.pg_drop_replication_slot($1)', [row.slot_name])
        .catch(ignoreCodes('55006', '42704'));
    }
  }

  async checkpoint(): Promise<void> {
    // A checkpoint may take long: its own connection, no pool query timeout.
    const client = new pg.Client(this.connectionConfig());
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
    if (tli === null || tli <= 1) return [];
    const file = path.join(this.dir, 'pg_wal', `${tli.toString(16).toUpperCase().padStart(8, '0')}.history`);
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: Array<[number, number, string]> = [];
    for (const line of text.split('\n')) {
      const m = /^\s*(\d+)\s+([0-9A-Fa-f]+\/[0-9A-Fa-f]+)\s*(.*)$/.exec(line);
      if (m) out.push([Number(m[1]), parseLsn(m[2]!), m[3]!.trim()]);
    }
    return out;
  }

  async close(): Promise<void> {
    await this.dropPool();
  }

  // ---- helpers --------------------------------------------------------------------------

  private connectionConfig(): pg.ClientConfig {
    const su = this.config.postgresql.authentication.superuser;
    return {
      host: socketDirFor(this.config),
      port: this.config.postgresql.listen.port,
      user: su.username,
      password: su.password,
      database: 'postgres',
      application_name: 'pgwarden',
      connectionTimeoutMillis: 5_000,
    };
  }

  private getPool(): pg.Pool {
    if (!this.pool) {
      const pool = new pg.Pool({
        ...this.connectionConfig(),
        max: 2,
        idleTimeoutMillis: 30_000,
        query_timeout: 15_000,
      });
      // An idle client dies when the server stops; unhandled, that error would crash the process.
      pool.on('error', (err) => this.log(`idle connection lost: ${err.message}`));
      this.pool = pool;
    }
    return this.pool;
  }

  private async dropPool(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    if (pool) await pool.end().catch(() => {});
  }

  private configure(
    standby: boolean,
    upstream: UpstreamTarget | null,
    overrides?: Record<string, string | number | boolean>,
  ) {
    if (!overrides) this.lastRole = { standby, upstream };
    return configureDataDir(this.files, this.config, standby, upstream, overrides);
  }

  private postmasterPid(): Promise<number | null> {
    return postmasterPid(this.dir);
  }

  private async writePgpass(): Promise<string> {
    const file = path.resolve(this.config.postgresql.pgpass);
    await this.files.write(file, renderPgpass(this.config), 0o600);
    return file;
  }

  private async waitFor(
    what: string,
    timeoutMs: number,
    probe: () => Promise<boolean>,
    everyMs = POLL_MS,
  ): Promise<void> {
    const deadline = monotonicNow(this.clock) + timeoutMs;
    let last: unknown = null;
    for (;;) {
      try {
        if (await probe()) return;
      } catch (err) {
        last = err;
      }
      if (monotonicNow(this.clock) >= deadline) {
        const why = last instanceof Error ? `: ${last.message}` : '';
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
      }
      await new Promise((r) => this.clock.setTimeout(r, everyMs));
    }
  }
}

function uninitialized(): DataDirState {
  return {
    initialized: false,
    systemIdentifier: null,
    clusterState: null,
    timeline: null,
    checkpointLsn: null,
  };
}

function ignoreCodes(...codes: string[]) {
  return (err: unknown) => {
    if (!codes.includes((err as { code?: string }).code ?? '')) throw err;
  };
}
