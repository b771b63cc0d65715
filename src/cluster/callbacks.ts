/**
 * Patroni's user callbacks (`postgresql.callbacks`): which one a lifecycle step calls, and with
 * which role. Patroni 3.0.2 runs `<command> <action> <role> <scope>` after PostgreSQL started
 * (`on_start`), stopped (`on_stop`), was restarted on request (`on_restart`, not on_stop and
 * on_start), reloaded (`on_reload`), promoted or demoted (`on_role_change`); none while a new
 * cluster is being bootstrapped, `on_start` once it is.
 */
import type { WireRole } from './view.ts';

export const CALLBACK_ACTIONS = ['on_start', 'on_stop', 'on_restart', 'on_reload', 'on_role_change'] as const;
export type CallbackAction = (typeof CALLBACK_ACTIONS)[number];

/** The role a callback is told: Patroni says `master` for a node still being promoted. */
export function callbackRole(role: WireRole): string {
  return role === 'promoted' ? 'master' : role;
}

/** What `postgresql.pre_promote` did: null when none is configured. */
export type PrePromoteOutcome = {
  command: string;
  /** The exit code; null when it could not run, or was killed at its deadline. */
  exitCode: number | null;
} | null;

/** Patroni: the promotion goes ahead only when the script exited 0 (or none is configured). */
export function prePromoteAllows(outcome: PrePromoteOutcome): boolean {
  return outcome === null || outcome.exitCode === 0;
}
