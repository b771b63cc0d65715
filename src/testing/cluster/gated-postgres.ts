/**
 * The seam between an agent and its simulated PostgreSQL, where the simulator injects what a
 * process would suffer: operations that fail on request (initdb out of disk, pg_ctl start
 * failing, ...) and results that a frozen (SIGSTOPped) agent only sees once thawed.
 */
import type { Postgres } from '../../actors/postgres.ts';
import type { NodeClock } from '../node-clock.ts';
import type { SimulatedPostgres } from '../simulated-postgres/index.ts';

/** PostgreSQL operations an injected failure can hit, by the agent's name for them. */
export const FAILING_OPERATIONS = {
  inspect: 'dataDir',
  initdb: 'initdb',
  clone: 'createReplica',
  start: 'start',
  stop: 'stop',
  promote: 'promote',
  follow: 'follow',
  rewind: 'rewind',
  remove: 'removeDataDir',
  checkpoint: 'checkpoint',
} as const satisfies Record<string, keyof Postgres>;
export type FailingOperation = keyof typeof FAILING_OPERATIONS;

/**
 * The agent's view of its SimulatedPostgres: results reach a frozen agent only after thaw, and
 * an operation with an injected failure rejects (without doing anything) instead of running.
 */
export function gatedPostgres(
  pg: SimulatedPostgres,
  clock: NodeClock,
  failures: Map<string, number>,
  onRemove: () => void,
): Postgres {
  return new Proxy(pg, {
    get(target, key) {
      const v = Reflect.get(target, key, target);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        const left = typeof key === 'string' ? (failures.get(key) ?? 0) : 0;
        if (left > 0) {
          failures.set(key as string, left - 1);
          return clock.gate(Promise.reject(new Error(`simulated failure of ${String(key)}`)));
        }
        if (key === 'removeDataDir') onRemove();
        const r = (v as (...a: unknown[]) => unknown).apply(target, args);
        return r instanceof Promise ? clock.gate(r) : r;
      };
    },
  }) as Postgres;
}
