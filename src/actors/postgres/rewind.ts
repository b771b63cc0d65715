/**
 * pg_rewind of an old primary's data directory onto the new leader's timeline, and what it needs
 * first: a cleanly shut down target, reached by crash recovery in single-user mode so that the
 * old primary is never opened to clients. A failure that says nothing about the data directory
 * (no connection, a timeout) throws to be retried later; any other answers false.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { NodeConfig } from '../../config/types.ts';
import type { UpstreamTarget } from '../postgres.ts';
import { rewindCredentials, conninfo as toConninfo } from './conf.ts';
import { CommandError, type Runner, tailLines } from './run.ts';

/** pg_rewind failures that say nothing about the data dir: retry later rather than give up on it. */
const REWIND_TRANSIENT =
  /could not connect|connection to server|timeout expired|password authentication failed/i;

/** What a rewind runs with: the binaries, the data directory, the configuration, its bound. */
export interface RewindTarget {
  runner: Runner;
  dir: string;
  config: NodeConfig;
  longMs: number;
  log: (msg: string) => void;
}

/**
 * pg_rewind needs a cleanly shut down target. Crash recovery in single-user mode gets there
 * without opening the old primary to clients; recovery signal files must go first, because
 * a single-user server refuses standby mode.
 */
export async function singleUserRecovery(t: RewindTarget, clusterState: string | null): Promise<void> {
  t.log(`${t.dir} is "${clusterState}": running crash recovery in single-user mode`);
  await fs.rm(path.join(t.dir, 'standby.signal'), { force: true });
  await fs.rm(path.join(t.dir, 'recovery.signal'), { force: true });
  await t.runner.check('postgres', ['--single', '-D', t.dir, '-c', 'archive_mode=off', 'postgres'], {
    timeoutMs: t.longMs,
  });
}

/** Runs pg_rewind from `from` (credentials in `pgpass`): true when the target was rewound. */
export async function runPgRewind(t: RewindTarget, from: UpstreamTarget, pgpass: string): Promise<boolean> {
  const cred = rewindCredentials(t.config);
  const source = toConninfo({
    host: from.host,
    port: from.port,
    user: cred.username,
    dbname: 'postgres',
    sslmode: 'prefer',
    connect_timeout: 10,
  });
  t.log(`pg_rewind ${t.dir} from ${from.host}:${from.port}`);
  const res = await t.runner.run('pg_rewind', ['-D', t.dir, `--source-server=${source}`], {
    timeoutMs: t.longMs,
    env: { PGPASSFILE: pgpass },
  });
  const output = `${res.stdout}\n${res.stderr}`;
  if (res.code !== 0 || res.timedOut) {
    if (res.timedOut || REWIND_TRANSIENT.test(output)) throw new CommandError('pg_rewind', res);
    t.log(`pg_rewind failed: ${tailLines(output, 5)}`);
    return false;
  }
  t.log(`pg_rewind: ${tailLines(output, 2)}`);
  return true;
}
