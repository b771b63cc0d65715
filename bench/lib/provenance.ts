/** What was measured, and on what: the code under test and the machine. */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository the benchmark runs from (agents load its src/ at spawn). */
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The code under test: HEAD plus any uncommitted change under src/ (agents load src/ at spawn). */
export function gitState(): { head: string | null; dirtySrc: string[] } {
  const git = (args: string[]) => {
    try {
      return execFileSync('git', args, { cwd: REPO, encoding: 'utf8' });
    } catch {
      return null;
    }
  };
  const status = git(['status', '--porcelain', '--', 'src']) ?? '';
  return {
    head: git(['rev-parse', 'HEAD'])?.trim() ?? null,
    dirtySrc: status.split('\n').filter((l) => l.trim() !== ''),
  };
}

export function machineInfo(): Record<string, unknown> {
  const version = (cmd: string, args: string[]) => {
    try {
      // spawns: - the absolute paths its callers name
      return execFileSync(cmd, args, { encoding: 'utf8' }).split('\n')[0]!.trim();
    } catch {
      return null;
    }
  };
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? null,
    node: process.version,
    postgres: version('/usr/lib/postgresql/15/bin/postgres', ['--version']),
    etcd: version('/usr/bin/etcd', ['--version']),
  };
}

/** Machine load right now: `uptime` as printed, and the 1/5/15-minute load averages. */
export function loadInfo(): { at: string; uptime: string | null; loadavg: number[] } {
  let uptime: string | null = null;
  try {
    uptime = execFileSync('uptime', [], { encoding: 'utf8' }).trim();
  } catch {
    // no uptime(1): loadavg still says it
  }
  return { at: new Date().toISOString(), uptime, loadavg: loadavg().map((x) => Math.round(x * 100) / 100) };
}
