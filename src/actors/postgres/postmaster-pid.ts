/**
 * Which process postmaster.pid names, if it is still that postmaster. A PID is reused once its
 * process is gone (the kernel wraps at pid_max, 32768 on many hosts): a postmaster.pid left by a
 * crash or a host reboot may name anyone by now. Signalling that process (a stop, a CHECKPOINT
 * wait) would hit an innocent one, and believing PostgreSQL runs would keep it from starting. So,
 * as Patroni does, the process must have started within 3 s of the time the file records (its
 * third line) — or run in the data directory the file names (its second line: a postmaster works
 * there, a process given a reused PID does not) —, and be neither this process, its parent, nor
 * its child. The second way matters when the postmaster was stopped (SIGSTOP, a frozen host)
 * between its fork and the moment it took its start time: the times then differ by the freeze,
 * and a postmaster judged gone is one the agent starts a second one beside, for good (found by
 * the chaos harness: "lock file postmaster.pid already exists" for minutes).
 */
import { closeSync, openSync, readFileSync, readlinkSync, readSync } from 'node:fs';
import { resolve } from 'node:path';

const START_TOLERANCE_S = 3;
/** /proc reports process start times in USER_HZ ticks, 100 per second on Linux. */
const USER_HZ = 100;

/** postmaster.pid's text → the PID of the live postmaster that wrote it, else null. */
export function livePostmaster(pidFileText: string): number | null {
  return judgePostmaster(pidFileText).pid;
}

/**
 * postmaster.pid's text → the live postmaster's PID, or null; and, when the file names a live
 * process that is not taken for its postmaster, why (worth a log line: should it be ours after
 * all, the agent would start a second server beside it).
 */
export function judgePostmaster(pidFileText: string): { pid: number | null; refused?: string } {
  const lines = pidFileText.split('\n');
  const pid = Number.parseInt(lines[0] ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0) return { pid: null };
  if (!processAlive(pid)) return { pid: null };
  if (pid === process.pid || pid === process.ppid)
    return { pid: null, refused: `PID ${pid} is this agent or its parent` };
  const proc = procStat(pid);
  if (proc === null) return { pid }; // no /proc: the liveness test is all there is
  if (proc.ppid === process.pid) return { pid: null, refused: `PID ${pid} is a child of this agent` };
  const recorded = Number.parseInt(lines[2] ?? '', 10);
  const timesAgree = !(
    Number.isInteger(recorded) &&
    recorded > 0 &&
    Math.abs(proc.startEpoch - recorded) > START_TOLERANCE_S
  );
  if (!timesAgree && !runsIn(pid, lines[1] ?? '')) {
    return {
      pid: null,
      refused: `PID ${pid} started at ${proc.startEpoch} (the file says ${recorded}) and does not run in ${lines[1] ?? '?'}`,
    };
  }
  return { pid };
}

/** Whether process `pid` works in directory `dir` (its /proc cwd); false when that cannot be read. */
function runsIn(pid: number, dir: string): boolean {
  if (dir === '') return false;
  try {
    return readlinkSync(`/proc/${pid}/cwd`) === resolve(dir);
  } catch {
    return false;
  }
}

/** Whether a process with this PID exists (whoever owns it). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: alive, owned by someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether `pid` is still the process that started at `startEpoch` (as processStartEpoch read
 * it): alive, and not a newer process that was given the same PID. /proc only: no disk read.
 */
export function sameProcess(pid: number, startEpoch: number | null): boolean {
  return processAlive(pid) && processStartEpoch(pid) === startEpoch;
}

/** A process's start time (epoch seconds, from /proc); null where there is no /proc. */
export function processStartEpoch(pid: number): number | null {
  return procStat(pid)?.startEpoch ?? null;
}

/** A process's parent and start time (epoch seconds) from /proc; null where there is no /proc. */
function procStat(pid: number): { ppid: number; startEpoch: number } | null {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

/** /proc/<pid>/stat's text → the process's state, parent and start time (epoch seconds). */
function parseStat(stat: string): { state: string; ppid: number; startEpoch: number } | null {
  // The command name (field 2) may hold spaces and parentheses: fields are counted after its ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const state = fields[0] ?? ''; // field 3
  const ppid = Number(fields[1]); // field 4
  const startTicks = Number(fields[19]); // field 22
  const boot = bootTime();
  if (!Number.isFinite(ppid) || !Number.isFinite(startTicks) || boot === null) return null;
  return { state, ppid, startEpoch: boot + startTicks / USER_HZ };
}

let bootEpoch: number | null = null;

/**
 * When the host booted (epoch seconds, /proc/stat's btime), read once: it does not change while
 * the host is up, and /proc/stat is a large file the kernel builds on every read (every CPU's and
 * every interrupt's counters) — reading it with each status sample was a fifth of a sample's cost.
 */
function bootTime(): number | null {
  if (bootEpoch === null) {
    const btime = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1];
    if (btime !== undefined) bootEpoch = Number(btime);
  }
  return bootEpoch;
}

/**
 * A process watched through a descriptor of its /proc/<pid>/stat, opened while it was known to
 * be the postmaster: the descriptor stays bound to that process, so once it has exited a read
 * fails (ESRCH) even if its PID was given to another process since. One read of a few bytes per
 * check, instead of opening and reading the file and comparing start times (readFileSync of a
 * /proc file was most of an idle agent's once-a-second liveness check). A zombie, not yet reaped,
 * counts as gone.
 */
export class ProcessWatch {
  private fd: number | null;
  private readonly buf = Buffer.alloc(256);

  private constructor(fd: number) {
    this.fd = fd;
  }

  /**
   * A watch of the process `pid` that started at `startEpoch` (processStartEpoch), checked through
   * the new descriptor itself: a process given the PID before it was opened is not watched. Null
   * where /proc cannot be read, or when `pid` is no longer that process.
   */
  static open(pid: number, startEpoch: number | null): ProcessWatch | null {
    if (startEpoch === null) return null;
    let fd: number;
    try {
      fd = openSync(`/proc/${pid}/stat`, 'r');
    } catch {
      return null;
    }
    const watch = new ProcessWatch(fd);
    if (watch.read()?.startEpoch === startEpoch) return watch;
    watch.close();
    return null;
  }

  /** Whether the process is alive (false for good once it is not: the watch is closed). */
  alive(): boolean {
    const stat = this.read();
    if (stat !== null && stat.state !== 'Z' && stat.state !== 'X') return true;
    this.close();
    return false;
  }

  private read(): ReturnType<typeof parseStat> {
    if (this.fd === null) return null;
    try {
      const n = readSync(this.fd, this.buf, 0, this.buf.length, 0);
      return parseStat(this.buf.toString('latin1', 0, n));
    } catch {
      return null; // ESRCH: the process is gone
    }
  }

  close(): void {
    if (this.fd === null) return;
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
    this.fd = null;
  }
}
