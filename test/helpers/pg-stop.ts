/**
 * Stops a test's own PostgreSQL for good: pg_ctl's immediate stop as the postgres OS user, then
 * SIGKILL to the postmaster the data directory names — only if that process is the postmaster
 * that wrote the file (a stale file's PID may be another test's process by now).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { livePostmaster } from '../../src/actors/postgres/postmaster-pid.ts';
import { TEST_PG_BIN_DIR } from './pg-config.ts';

export function stopPostgresNow(dataDir: string): void {
  try {
    execFileSync(
      'runuser',
      [
        '-u',
        'postgres',
        '--',
        path.join(TEST_PG_BIN_DIR, 'pg_ctl'),
        'stop',
        '-D',
        dataDir,
        '-m',
        'immediate',
        '-w',
        '-t',
        '20',
      ],
      { stdio: 'ignore', timeout: 30_000 },
    );
  } catch {
    // not running
  }
  try {
    const pid = livePostmaster(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8'));
    if (pid !== null) process.kill(pid, 'SIGKILL');
  } catch {
    // no pid file, or the process is gone
  }
}
