/**
 * postmaster.pid names a PID; after a crash or a reboot that PID may belong to anyone. The agent
 * (and the local clusters of the tests) signal it only when it is the postmaster that wrote the
 * file: started within 3 s of the time recorded, and not ourselves, our parent or our child.
 * Checked against real processes.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  judgePostmaster,
  livePostmaster,
  ProcessWatch,
  processStartEpoch,
} from '../../src/actors/postgres/postmaster-pid.ts';

const started: number[] = [];
afterAll(() => {
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
});

/** A live process that is not our child (a shell's background job, orphaned when the shell ends). */
function stranger(): number {
  const pid = Number(
    execFileSync('sh', ['-c', 'sleep 60 >/dev/null 2>&1 & echo $!'], { encoding: 'utf8' }).trim(),
  );
  started.push(pid);
  return pid;
}

const pidFile = (pid: number, startEpoch: number) =>
  `${pid}\n/var/lib/postgresql/15/main\n${startEpoch}\n5432\n`;
const now = () => Math.floor(Date.now() / 1000);

describe('livePostmaster', () => {
  it('the process that started when the file says: it', () => {
    const pid = stranger();
    expect(livePostmaster(pidFile(pid, now()))).toBe(pid);
  });

  it('a live process that started long before or after the recorded time: a reused PID, not it', () => {
    const pid = stranger();
    expect(livePostmaster(pidFile(pid, now() - 3600))).toBeNull();
    expect(livePostmaster(pidFile(pid, now() + 60))).toBeNull();
    // Said why, for the agent's log: a postmaster of ours judged foreign must be diagnosable.
    expect(judgePostmaster(pidFile(pid, now() - 3600)).refused).toMatch(
      new RegExp(
        `^PID ${pid} started at [\\d.]+ \\(the file says \\d+\\) and does not run in /var/lib/postgresql/15/main$`,
      ),
    );
    expect(judgePostmaster(pidFile(pid, now())).refused).toBeUndefined();
  });

  it('a postmaster frozen at its start (its recorded time off by the freeze): it, as it runs in the data directory the file names', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgwarden-pmdir-'));
    try {
      const pid = Number(
        execFileSync('sh', ['-c', `cd ${dir} && sleep 60 >/dev/null 2>&1 & echo $!`], {
          encoding: 'utf8',
        }).trim(),
      );
      started.push(pid);
      const file = (dataDir: string, at: number) => `${pid}\n${dataDir}\n${at}\n5432\n`;
      expect(livePostmaster(file(dir, now() + 14))).toBe(pid);
      expect(livePostmaster(file(dir, now() - 3600))).toBe(pid);
      // Another directory: a process given the PID since, not the file's postmaster.
      expect(livePostmaster(file(tmpdir(), now() + 14))).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ourselves, our parent, our child: never', () => {
    expect(livePostmaster(pidFile(process.pid, now()))).toBeNull();
    expect(livePostmaster(pidFile(process.ppid, now()))).toBeNull();
    const child = spawn('sleep', ['60'], { stdio: 'ignore' });
    started.push(child.pid!);
    expect(livePostmaster(pidFile(child.pid!, now()))).toBeNull();
  });

  it('a PID nobody has, and garbage: null', async () => {
    const gone = spawn('true', [], { stdio: 'ignore' });
    await new Promise((r) => gone.once('exit', r));
    expect(livePostmaster(pidFile(gone.pid!, now()))).toBeNull();
    expect(livePostmaster('')).toBeNull();
    expect(livePostmaster('not a pid\n')).toBeNull();
    expect(livePostmaster('-5\n')).toBeNull();
  });
});

describe('ProcessWatch', () => {
  /** Polls `alive` until it says false (within 2 s): whether the watch saw the process go. */
  const seenGone = async (watch: ProcessWatch) => {
    for (let i = 0; i < 100 && watch.alive(); i++) await new Promise((r) => setTimeout(r, 20));
    return !watch.alive();
  };
  const exists = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  it('alive while the process runs, gone for good once it has exited', async () => {
    const pid = stranger();
    const watch = ProcessWatch.open(pid, processStartEpoch(pid))!;
    expect(watch).not.toBeNull();
    expect(watch.alive()).toBe(true);
    expect(watch.alive()).toBe(true);
    process.kill(pid, 'SIGKILL');
    expect(await seenGone(watch)).toBe(true);
    expect(watch.alive()).toBe(false);
  });

  it('refuses a process that did not start when expected (a PID given to another)', () => {
    const pid = stranger();
    const started = processStartEpoch(pid)!;
    expect(ProcessWatch.open(pid, started - 60)).toBeNull();
    expect(ProcessWatch.open(pid, null)).toBeNull();
    expect(ProcessWatch.open(2 ** 22 + 7, started)).toBeNull(); // above pid_max: no such process
  });

  it('a zombie (exited, its parent has not reaped it) is gone, though its PID still answers a signal', async () => {
    // The background sleep's parent, our child, execs into a longer sleep that never waits for
    // it: once it exits it stays a zombie until that parent ends.
    const parent = spawn('sh', ['-c', 'sleep 0.3 >/dev/null 2>&1 & echo $!; exec sleep 5'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    started.push(parent.pid!);
    const pid = await new Promise<number>((resolve) =>
      parent.stdout.once('data', (d) => resolve(Number(String(d).trim()))),
    );
    const watch = ProcessWatch.open(pid, processStartEpoch(pid))!;
    expect(watch.alive()).toBe(true);
    expect(await seenGone(watch)).toBe(true);
    expect(exists(pid)).toBe(true);
    expect(readFileSync(`/proc/${pid}/stat`, 'utf8')).toMatch(/\) Z /);
  });
});
