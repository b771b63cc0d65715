import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

/**
 * Two simulator speed-ups read XState internals and were checked, line by line, against this
 * version only: `src/testing/shared-machine.ts` (an actor's `_parent`, fromPromise's transition
 * source) and `src/testing/sim-clock.ts` (SimulatedClock's private timeouts and flush flags).
 * Production code uses none of them. Before moving XState, re-read both against the new source,
 * run their own tests and the simulator's 200+200 summary comparison, then change this line.
 */
const CHECKED_ON = '5.33.3';

describe('XState internals the simulator relies on', () => {
  it('package.json pins XState to the exact version they were checked on', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    expect(pkg.dependencies.xstate).toBe(CHECKED_ON);
  });

  it('the installed XState is that version', () => {
    const require = createRequire(import.meta.url);
    const installed = JSON.parse(readFileSync(require.resolve('xstate/package.json'), 'utf8'));
    expect(installed.version).toBe(CHECKED_ON);
  });
});
