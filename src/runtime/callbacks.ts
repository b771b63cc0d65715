/**
 * Runs the user's callbacks as Patroni's CallbackExecutor does: `<command> <action> <role>
 * <scope>`, no shell, output to the agent's own; one at a time — a callback still running when
 * the next is due is killed with everything it started (its process group) — except `on_reload`,
 * which has a slot of its own. Nothing waits for a callback: the HA decisions never do.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { CallbackAction, PrePromoteOutcome } from '../cluster/callbacks.ts';
import { splitCommandLine } from '../config/command-line.ts';
import type { NodeConfig } from '../config/types.ts';

export interface CallbackHost {
  config(): NodeConfig;
  log(msg: string): void;
}

export class CallbackRunner {
  /** on_start, on_stop, on_restart, on_role_change: the one running, if any. */
  private current: ChildProcess | null = null;
  private reloading: ChildProcess | null = null;

  constructor(private readonly h: CallbackHost) {}

  run(action: CallbackAction, role: string): void {
    const config = this.h.config();
    const command = config.postgresql.callbacks?.[action];
    if (!command) return;
    const argv = [...splitCommandLine(command), action, role, config.scope];
    const slot = action === 'on_reload' ? 'reloading' : 'current';
    stopGroup(this[slot]);
    this.h.log(`calling ${action} callback: ${argv.join(' ')}`);
    // spawns: - (the user's own callback, named in postgresql.callbacks)
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'inherit', 'inherit'], detached: true });
    child.on('error', (err) => this.h.log(`${action} callback failed to start: ${err.message}`));
    child.on('exit', (code, signal) => {
      if (this[slot] === child) this[slot] = null;
      if (code !== 0) this.h.log(`${action} callback ended (code ${code}, signal ${signal})`);
    });
    this[slot] = child;
  }
}

/** SIGKILL to a callback's process group: the script and whatever it started. */
function stopGroup(child: ChildProcess | null): void {
  if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // gone meanwhile
  }
}

/**
 * postgresql.pre_promote (Patroni 2.1+): run after the lock is taken and before the promotion,
 * waited for; a non-zero exit keeps PostgreSQL a replica and gives the lock back. Patroni waits
 * without a bound; here at most `timeoutSeconds` (the node machine gives it the ttl), after which
 * the script's process group is killed and the promotion is refused as for a failure: a fencing
 * script that hangs must neither hold the lock for ever nor be taken for a success.
 */
export function runPrePromote(
  command: string | undefined,
  timeoutSeconds: number,
  log: (msg: string) => void,
): Promise<PrePromoteOutcome> {
  if (!command) return Promise.resolve(null);
  const argv = splitCommandLine(command);
  return new Promise((resolve) => {
    // spawns: - (the user's own pre_promote script, named in postgresql.pre_promote)
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'inherit', 'inherit'], detached: true });
    const timer = setTimeout(() => {
      log(`pre_promote script \`${command}\` still running after ${timeoutSeconds} s: killed`);
      stopGroup(child);
    }, timeoutSeconds * 1000);
    let finished = false;
    const done = (exitCode: number | null) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      log(`pre_promote script \`${command}\` exited with ${exitCode}`);
      resolve({ command, exitCode });
    };
    child.on('error', (err) => {
      log(`pre_promote script \`${command}\` could not run: ${err.message}`);
      done(null);
    });
    child.on('exit', (code) => done(code));
  });
}
