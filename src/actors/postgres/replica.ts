/**
 * Making a replica's data directory (Patroni's create_replica): the plan's methods in order
 * until one works — pg_basebackup, or a user's command (a restore from a backup) — and what
 * the failed ones left removed. Which methods, in which order, with or without a member to copy,
 * was decided by the node machine (cluster/replica-methods.ts); this runs it.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import {
  type CommandMethod,
  commandMethodArgs,
  keepsDataFirst,
  methodConnstring,
  type ReplicaPlan,
} from '../../cluster/replica-methods.ts';
import { splitCommandLine } from '../../config/command-line.ts';
import type { NodeConfig } from '../../config/types.ts';
import type { UpstreamTarget } from '../postgres.ts';
import { DYNAMIC_CACHE_FILE } from './dynamic-cache.ts';
import { ADDRESS_BOOK_FILE, liftFence } from './fence.ts';
import type { BootstrapStart, OwnedFiles } from './files.ts';
import type { Runner } from './run.ts';

/** What the data directory's owner (PostgresProcess) lends the steps that make a data directory. */
export interface DataDirHost {
  readonly dir: string;
  readonly config: NodeConfig;
  readonly runner: Runner;
  readonly files: OwnedFiles;
  /** Bound for a restore, a pg_basebackup, a recovery. */
  readonly longMs: number;
  log(msg: string): void;
  /** The directory holds a PostgreSQL cluster (pg_controldata reads its pg_control). */
  holdsCluster(): Promise<boolean>;
  postmasterPid(): Promise<number | null>;
  /** The pgpass file with the replication and rewind credentials: its path. */
  writePgpass(): Promise<string>;
  configure(
    standby: boolean,
    upstream: UpstreamTarget | null,
    overrides?: Record<string, string | number | boolean>,
    bootstrap?: BootstrapStart,
  ): Promise<void>;
}

/** Nothing in it, or no directory at all. */
export async function isEmptyDir(dir: string): Promise<boolean> {
  const entries = await fs.readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  return entries.length === 0;
}

/**
 * The data directory emptied (its contents, not the directory: it may be a mount point the
 * database user could not create again), or created; never under a running postmaster.
 */
export async function emptyDataDir(h: DataDirHost): Promise<void> {
  const pid = await h.postmasterPid();
  if (pid !== null) throw new Error(`refusing to empty ${h.dir}: postmaster ${pid} is running`);
  const entries = await fs.readdir(h.dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
  if (entries === null) return h.files.mkdir(h.dir, 0o700);
  for (const e of entries) await fs.rm(path.join(h.dir, e), { recursive: true, force: true });
}

/**
 * pgwarden's own files as the backup's source cluster left them: its address book (whose servers
 * this cluster must never fence), its /config cache, a fence on it; and a promote trigger file.
 */
export async function forgetSourceCluster(h: DataDirHost): Promise<void> {
  for (const f of [ADDRESS_BOOK_FILE, DYNAMIC_CACHE_FILE, 'promote'])
    await fs.rm(path.join(h.dir, f), { force: true });
  const fence = await liftFence(h.files, h.dir);
  if (fence) h.log(`lifted the fence the restored backup carried (${fence})`);
}

async function basebackup(h: DataDirHost, from: UpstreamTarget, options: readonly string[]): Promise<void> {
  const repl = h.config.postgresql.authentication.replication;
  const pgpass = await h.writePgpass();
  h.log(`pg_basebackup from ${from.host}:${from.port} into ${h.dir}`);
  const args = ['-D', h.dir, '-X', 'stream', '-c', 'fast', '--no-password'];
  args.push('-h', from.host, '-p', String(from.port), '-U', repl.username, ...options);
  await h.runner.check('pg_basebackup', args, { timeoutMs: h.longMs, env: { PGPASSFILE: pgpass } });
}

async function runCommandMethod(h: DataDirHost, method: CommandMethod, from: UpstreamTarget | null) {
  const { username, password: _, ...libpq } = h.config.postgresql.authentication.replication;
  const args = commandMethodArgs(method, {
    scope: h.config.scope,
    // As configured (Patroni passes its data_dir setting as it is written).
    dataDir: h.config.postgresql.data_dir,
    connstring: methodConnstring(from, username, libpq),
  });
  const env = from ? { PGPASSFILE: await h.writePgpass() } : {};
  h.log(`creating replica using ${method.name}: ${method.command}`);
  await h.runner.checkCommand([...splitCommandLine(method.command), ...args], {
    timeoutMs: h.longMs,
    env,
    processGroup: true,
  });
}

/** Runs the plan (see Postgres.createReplica): the name of the method that made the replica. */
export async function createReplica(h: DataDirHost, plan: ReplicaPlan): Promise<string> {
  if (plan.methods.length === 0)
    throw new Error('no replica method can work now: nobody to copy from, and none is marked no_leader');
  // Only into an empty directory (the machine judged it empty, or removed it to clone again),
  // unless the first method keeps what is there: nothing found here is emptied unasked.
  if (!keepsDataFirst(plan) && !(await isEmptyDir(h.dir)))
    throw new Error(`create replica: ${h.dir} is not empty`);
  const failures: string[] = [];
  for (const method of plan.methods) {
    if (method.kind === 'command' && method.keepData) {
      await h.files.mkdir(h.dir, 0o700);
      h.log(`Leaving data directory uncleaned (${method.name}: keep_data)`);
    } else {
      await emptyDataDir(h);
    }
    try {
      if (method.kind === 'basebackup') {
        if (!plan.from) throw new Error('pg_basebackup needs a member to copy from');
        await basebackup(h, plan.from, method.options);
      } else {
        await runCommandMethod(h, method, plan.from);
      }
      if (!(await h.holdsCluster()))
        throw new Error(`exited with 0 but left no PostgreSQL data directory in ${h.dir}`);
      // pg_basebackup (and tar) copy the source's group-access mode; the server wants 0700 or 0750.
      await fs.chmod(h.dir, 0o700);
      if (plan.foreign) await forgetSourceCluster(h);
      await h.configure(true, plan.from);
      return method.name;
    } catch (err) {
      const why = `${method.name}: ${(err as Error).message}`;
      h.log(`Error creating replica using method ${why}`);
      failures.push(why);
    }
  }
  // A half-made copy is no replica: the next attempt starts from empty (Patroni removes it too).
  await emptyDataDir(h);
  throw new Error(`every replica method failed: ${failures.join('; ')}`);
}
