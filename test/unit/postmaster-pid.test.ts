/**
 * postmaster.pid names a PID; after a crash or a reboot that PID may belong to anyone. The agent
 * (and the local clusters of the tests) signal it only when it is the postmaster that wrote the
 * file: started within 3 s of the time recorded, and not ourselves, our parent or our child.
 * Checked against real processes.
 */
import { execFileSync, spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { livePostmaster } from '../../src/actors/postgres/postmaster-pid.ts';

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
