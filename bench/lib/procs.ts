/** Process trees from /proc, and signals to a list of pids (for freezing a whole node). */
import { readdirSync, readFileSync } from 'node:fs';

/** pid → its children, as /proc says right now. */
function childrenByParent(): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // pid (comm) state ppid …: comm may hold spaces and parentheses, so read after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = out.get(ppid) ?? [];
    list.push(Number(entry));
    out.set(ppid, list);
  }
  return out;
}

/** `root` and all its descendants. */
export function processTree(root: number): number[] {
  const children = childrenByParent();
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** Sends `signal` to every pid that still exists; returns those it reached. */
export function signalAll(pids: number[], signal: NodeJS.Signals): number[] {
  const reached: number[] = [];
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
      reached.push(pid);
    } catch {
      // already gone
    }
  }
  return reached;
}

/** Whether a pid still exists (a zombie counts as gone). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** USER_HZ on Linux: /proc's CPU times are in these ticks. */
export const TICKS_PER_S = 100;

/** The agent and its children, PostgreSQL's processes left out (they are the database's cost). */
export function agentProcesses(pid: number): number[] {
  return processTree(pid).filter((p) => {
    try {
      return !/^\d+ \(postgres\)/.test(readFileSync(`/proc/${p}/stat`, 'utf8'));
    } catch {
      return false;
    }
  });
}

/** `read` of each process's /proc/<pid>/<file>, summed (a process that exited counts 0). */
function sumOver(pids: number[], file: string, read: (text: string) => number): number {
  let sum = 0;
  for (const p of pids) {
    try {
      sum += read(readFileSync(`/proc/${p}/${file}`, 'utf8'));
    } catch {
      // exited
    }
  }
  return sum;
}

/** utime + stime of these processes, in clock ticks. */
export function cpuTicks(pids: number[]): number {
  return sumOver(pids, 'stat', (f) => {
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  });
}

export function rssMb(pids: number[]): number {
  return sumOver(pids, 'status', (f) => Number(/VmRSS:\s+(\d+) kB/.exec(f)?.[1] ?? 0)) / 1024;
}
