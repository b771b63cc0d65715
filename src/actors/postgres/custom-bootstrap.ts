/**
 * A new cluster made by `bootstrap.method`'s command instead of initdb (Patroni's custom
 * bootstrap): the command fills the empty data directory (a restore from a backup), PostgreSQL
 * starts once on a private socket with the method's `recovery_conf` (restore_command, a
 * recovery target) and is waited for until it leaves recovery, the roles are made or updated
 * (the restored cluster's passwords are not ours), and it is stopped, ready to start as the
 * cluster's first primary. A failure moves what was restored aside, never removes it.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { type BootstrapCommand, bootstrapCommandArgs } from '../../cluster/replica-methods.ts';
import { splitCommandLine } from '../../config/command-line.ts';
import { type Clock, monotonicNow } from '../clock.ts';
import { logFileFor } from './conf.ts';
import type { BootstrapStart } from './files.ts';
import { pgCtlStopPrivate } from './pg-ctl.ts';
import { type DataDirHost, emptyDataDir, forgetSourceCluster, isEmptyDir } from './replica.ts';
import { ensureRoles } from './roles.ts';
import { tailLines } from './run.ts';

const POLL_MS = 250;
/** From pg_ctl's return until postmaster.pid names the new postmaster. */
const PIDFILE_MS = 30_000;

export async function customBootstrap(h: DataDirHost, method: BootstrapCommand, clock: Clock): Promise<void> {
  if (!(await isEmptyDir(h.dir))) throw new Error(`custom bootstrap: ${h.dir} is not empty`);
  await emptyDataDir(h);
  const argv = [
    ...splitCommandLine(method.command),
    ...bootstrapCommandArgs(method, h.config.scope, h.config.postgresql.data_dir),
  ];
  h.log(`Running custom bootstrap script: ${method.command}`);
  try {
    await h.runner.checkCommand(argv, { timeoutMs: h.longMs, processGroup: true });
    if (!(await h.holdsCluster()))
      throw new Error(`${method.name} exited with 0 but left no PostgreSQL data directory in ${h.dir}`);
    await fs.chmod(h.dir, 0o700);
    await forgetSourceCluster(h);
    await recoverOnce(h, method, clock);
  } catch (err) {
    await moveAside(h, clock);
    throw err;
  }
}

/** The recovery settings of the one start, and whether hot standby is off for it (as Patroni decides). */
export function bootstrapRecovery(method: BootstrapCommand): {
  recovery: BootstrapStart['recovery'];
  hotStandby: boolean;
} {
  if (method.keepExistingRecoveryConf) return { recovery: 'keep', hotStandby: false };
  const conf = method.recoveryConf;
  if (!conf) return { recovery: null, hotStandby: true };
  const recovery = { ...conf };
  // PostgreSQL 9.5 replaced pause_at_recovery_target by recovery_target_action; Patroni translates.
  const pause = recovery['pause_at_recovery_target'];
  delete recovery['pause_at_recovery_target'];
  if (pause !== undefined && recovery['recovery_target_action'] === undefined)
    recovery['recovery_target_action'] = /^(on|true|yes|1)$/i.test(pause) ? 'pause' : 'promote';
  // Settings a smaller server than the source cannot replay under would stop a hot standby; a
  // recovery that promotes at its end needs no reads meanwhile.
  return { recovery, hotStandby: recovery['recovery_target_action'] !== 'promote' };
}

async function recoverOnce(h: DataDirHost, method: BootstrapCommand, clock: Clock): Promise<void> {
  const { recovery, hotStandby } = bootstrapRecovery(method);
  const socketDir = await fs.mkdtemp(path.join(os.tmpdir(), 'pgwarden-restore-'));
  await h.files.chown(socketDir);
  try {
    // Only this private socket, trusted: the restored cluster's passwords are not ours yet.
    const hba = 'local all all trust\nlocal replication all trust\n';
    const overrides = { listen_addresses: '', unix_socket_directories: socketDir, hot_standby: hotStandby };
    await h.configure(false, null, overrides, { recovery, hba });
    const logFile = logFileFor(h.config);
    h.log(
      `starting the restored cluster to recover (${recovery === null ? 'crash recovery' : 'archive recovery'})`,
    );
    await h.runner.check('pg_ctl', ['start', '-D', h.dir, '-W', '-l', logFile], { timeoutMs: 60_000 });
    try {
      await waitForEndOfRecovery(h, socketDir, logFile, clock);
      await ensureRoles(h.config, socketDir, { superuser: true });
    } finally {
      await pgCtlStopPrivate(h.runner, h.dir);
    }
    await h.configure(false, null);
  } finally {
    await fs.rm(socketDir, { recursive: true, force: true });
  }
}

/** Until it runs out of recovery (promoted); a postmaster gone or a recovery paused at its target fails at once. */
async function waitForEndOfRecovery(h: DataDirHost, socketDir: string, logFile: string, clock: Clock) {
  const started = monotonicNow(clock);
  const serverLog = async () => tailLines(await fs.readFile(logFile, 'utf8').catch(() => ''), 12);
  let seen = false;
  for (;;) {
    const elapsed = monotonicNow(clock) - started;
    const pid = await h.postmasterPid();
    if (pid !== null) seen = true;
    else if (seen || elapsed > PIDFILE_MS)
      throw new Error(
        `PostgreSQL stopped during the recovery after the custom bootstrap:\n${await serverLog()}`,
      );
    if (elapsed > h.longMs) throw new Error(`recovery after the custom bootstrap took over ${h.longMs} ms`);
    const state = await recoveryState(h, socketDir).catch(() => null);
    if (state === 'done') return;
    if (state === 'paused')
      throw new Error(
        'recovery paused at its target (recovery_target_action: pause): a new cluster needs a recovery that ends; set recovery_target_action: promote',
      );
    await new Promise((r) => clock.setTimeout(r, POLL_MS));
  }
}

async function recoveryState(h: DataDirHost, socketDir: string): Promise<'done' | 'paused' | 'recovering'> {
  const client = new pg.Client({
    host: socketDir,
    port: h.config.postgresql.listen.port,
    user: h.config.postgresql.authentication.superuser.username,
    database: 'postgres',
    connectionTimeoutMillis: 5_000,
  });
  client.on('error', () => {});
  await client.connect();
  try {
    const r = await client.query<{ rec: boolean; pause: string | null }>(
      'SELECT pg_catalog.pg_is_in_recovery() AS rec, CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_get_wal_replay_pause_state() END AS pause',
    );
    const row = r.rows[0]!;
    return !row.rec ? 'done' : row.pause === 'paused' ? 'paused' : 'recovering';
  } finally {
    await client.end();
  }
}

/** What a failed custom bootstrap left, renamed `<data_dir>_<time>` as Patroni does: kept, never used. */
async function moveAside(h: DataDirHost, clock: Clock): Promise<void> {
  const pid = await h.postmasterPid();
  if (pid !== null) {
    await h.runner.run('pg_ctl', ['stop', '-D', h.dir, '-m', 'immediate', '-w', '-t', '30'], {
      timeoutMs: 40_000,
    });
  }
  const entries = await fs.readdir(h.dir).catch(() => []);
  if (entries.length === 0) return;
  const stamp = new Date(clock.now()).toISOString().replace(/\..*$/, '').replace(/[T:]/g, '-');
  const aside = `${h.dir}_${stamp}`;
  try {
    await fs.rename(h.dir, aside);
    h.log(`moved the data directory of the failed custom bootstrap to ${aside}`);
  } catch (err) {
    h.log(
      `could not move the data directory of the failed custom bootstrap aside (${(err as Error).message}): empty ${h.dir} before the next start`,
    );
  }
}
