/**
 * pg_ctl start, waiting (-w) until the server accepts connections or the timeout runs out; on
 * failure its error carries the tail of the server log, which is where PostgreSQL says why.
 */
import { promises as fs } from 'node:fs';
import type { NodeConfig } from '../../config/types.ts';
import { logFileFor } from './conf.ts';
import { CommandError, type Runner, tailLines } from './run.ts';

/** Starts the server of data directory `dir` with pg_ctl (timeoutSeconds for -t). */
export async function pgCtlStart(
  runner: Runner,
  dir: string,
  config: NodeConfig,
  timeoutSeconds: number,
): Promise<void> {
  const logFile = logFileFor(config);
  const t = String(Math.max(1, Math.ceil(timeoutSeconds)));
  const res = await runner.run('pg_ctl', ['start', '-D', dir, '-w', '-t', t, '-l', logFile], {
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

/**
 * Stops the server a new cluster was started on privately (its roles made, its recovery done):
 * fast, waited for a minute; its result is not checked, the next start says what is wrong.
 */
export async function pgCtlStopPrivate(runner: Runner, dir: string): Promise<void> {
  await runner.run('pg_ctl', ['stop', '-D', dir, '-m', 'fast', '-w', '-t', '60'], { timeoutMs: 70_000 });
}
