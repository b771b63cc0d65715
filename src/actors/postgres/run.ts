/**
 * Spawning PostgreSQL binaries: argument arrays only (no shell), always time-bounded, with
 * the tail of stderr carried into errors so a failed initdb or pg_rewind explains itself.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';

export interface RunAs {
  user: string;
  uid: number;
  gid: number;
}

export interface RunOptions {
  timeoutMs: number;
  /** Added to the inherited environment; `undefined` removes a variable. */
  env?: Record<string, string | undefined>;
  /** Messages in English so pg_controldata labels and pg_rewind errors can be matched. */
  englishMessages?: boolean;
  /**
   * Its own process group, killed whole on a timeout: a user's script (a restore) leaves no
   * child (tar, a backup tool) running after it.
   */
  processGroup?: boolean;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Output beyond this is dropped from the front: errors are at the end. */
const MAX_CAPTURE = 1024 * 1024;
const KILL_GRACE_MS = 5_000;

export function tailLines(text: string, count = 10): string {
  return text.trimEnd().split('\n').slice(-count).join('\n');
}

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly result: RunResult,
    detail?: string,
  ) {
    const how = result.timedOut
      ? 'timed out'
      : result.code !== null
        ? `exited with code ${result.code}`
        : `was killed by ${result.signal}`;
    const output = tailLines(result.stderr || result.stdout);
    super(`${command} ${how}${output ? `:\n${output}` : ''}${detail ? `\n${detail}` : ''}`);
    this.name = 'CommandError';
  }
}

export class Runner {
  constructor(
    private readonly binDir: string,
    private readonly runAs?: RunAs,
  ) {}

  /** Runs to completion; never rejects on a non-zero exit (see `check`). */
  run(binary: string, args: string[], opts: RunOptions): Promise<RunResult> {
    return this.spawnRun(path.join(this.binDir, binary), args, opts);
  }

  /**
   * A user's command line (already split: a path, or a name looked up in PATH), as the database
   * user like PostgreSQL's own programs; a non-zero exit or a timeout rejects with a CommandError.
   */
  async checkCommand(argv: readonly string[], opts: RunOptions): Promise<RunResult> {
    const [file, ...args] = argv;
    if (file === undefined) throw new Error('empty command line');
    const result = await this.spawnRun(file, args, { englishMessages: false, ...opts });
    if (result.code !== 0 || result.timedOut) throw new CommandError(file, result);
    return result;
  }

  private spawnRun(file: string, args: string[], opts: RunOptions): Promise<RunResult> {
    // runuser keeps the environment (PGPASSFILE, LC_ALL) apart from HOME/SHELL/USER/LOGNAME.
    const [cmd, argv] = this.runAs ? ['runuser', ['-u', this.runAs.user, '--', file, ...args]] : [file, args];
    const env: Record<string, string | undefined> = { ...process.env };
    if (opts.englishMessages !== false) {
      env['LC_ALL'] = 'C';
      env['LANG'] = 'C';
    }
    for (const [k, v] of Object.entries(opts.env ?? {})) {
      if (v === undefined) delete env[k];
      else env[k] = v;
    }
    return new Promise((resolve, reject) => {
      // stdin is /dev/null: `postgres --single` reads commands from it and must see EOF.
      // spawns: runuser (PostgreSQL's programs in bin_dir: found at the runner.run/check calls; a user's replica or bootstrap method: its configured command)
      const child = spawn(cmd, argv, {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: !!opts.processGroup,
      });
      const kill = (signal: NodeJS.Signals) => {
        try {
          if (opts.processGroup && child.pid !== undefined) process.kill(-child.pid, signal);
          else child.kill(signal);
        } catch {
          // Gone already.
        }
      };
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      const keep = (acc: string, chunk: Buffer) => {
        const next = acc + chunk.toString('utf8');
        return next.length > MAX_CAPTURE ? next.slice(-MAX_CAPTURE) : next;
      };
      child.stdout.on('data', (c: Buffer) => {
        stdout = keep(stdout, c);
      });
      child.stderr.on('data', (c: Buffer) => {
        stderr = keep(stderr, c);
      });
      let killTimer: NodeJS.Timeout | undefined;
      const timer = setTimeout(() => {
        timedOut = true;
        kill('SIGTERM');
        killTimer = setTimeout(() => kill('SIGKILL'), KILL_GRACE_MS);
      }, opts.timeoutMs);
      child.on('error', (err) => {
        clearTimeout(timer);
        clearTimeout(killTimer);
        reject(new Error(`cannot run ${file}: ${err.message}`));
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        clearTimeout(killTimer);
        resolve({ code, signal, stdout, stderr, timedOut });
      });
    });
  }

  /** Like `run`, but a non-zero exit or a timeout rejects with a CommandError. */
  async check(binary: string, args: string[], opts: RunOptions): Promise<RunResult> {
    const result = await this.run(binary, args, opts);
    if (result.code !== 0 || result.timedOut) throw new CommandError(binary, result);
    return result;
  }
}
