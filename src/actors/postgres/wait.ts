/**
 * Waiting on the server in real time, watched closely: until it answers (a start, the end of
 * recovery), and until its postmaster is gone after a stop signal. pg_ctl looks only every
 * 100 ms, and during a switchover every one of those milliseconds is write outage.
 */
import { type Clock, monotonicNow } from '../clock.ts';
import type { StopMode } from '../postgres.ts';

const POLL_MS = 50;

/** What pg_ctl stop -m sends: smart = SIGTERM, fast = SIGINT, immediate = SIGQUIT. */
const STOP_SIGNAL: Record<StopMode, NodeJS.Signals> = {
  smart: 'SIGTERM',
  fast: 'SIGINT',
  immediate: 'SIGQUIT',
};

/** Polls `probe` every `everyMs` until it answers true; throws (with its last error) after timeoutMs. */
export async function waitFor(
  clock: Clock,
  what: string,
  timeoutMs: number,
  probe: () => Promise<boolean>,
  everyMs = POLL_MS,
): Promise<void> {
  const deadline = monotonicNow(clock) + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      if (await probe()) return;
    } catch (err) {
      last = err;
    }
    if (monotonicNow(clock) >= deadline) {
      const why = last instanceof Error ? `: ${last.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await new Promise((r) => clock.setTimeout(r, everyMs));
  }
}

/**
 * Signals postmaster `pid` to stop in `mode` and waits until `currentPid` no longer answers it;
 * throws when it still runs after timeoutSeconds.
 */
export async function signalAndWait(
  clock: Clock,
  pid: number,
  mode: StopMode,
  timeoutSeconds: number,
  currentPid: () => Promise<number | null>,
): Promise<void> {
  try {
    process.kill(pid, STOP_SIGNAL[mode]);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
  const deadline = monotonicNow(clock) + timeoutSeconds * 1000;
  while ((await currentPid()) === pid) {
    if (monotonicNow(clock) > deadline) {
      throw new Error(`pg_ctl stop -m ${mode}: postmaster ${pid} still running after ${timeoutSeconds} s`);
    }
    await new Promise((r) => clock.setTimeout(r, 10));
  }
}
