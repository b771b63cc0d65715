/**
 * Tests that need something of the machine — a program, root — run where it is there. Elsewhere
 * they are skipped, except under CI (`CI` set), where a missing prerequisite fails the test with
 * a message that says what is missing and how to get it: CI must never go green by skipping.
 */
import { existsSync } from 'node:fs';
import { describe, it } from 'vitest';
import { isRoot, lookupUser } from '../../src/local/os-user.ts';

export interface Prerequisite {
  ok: boolean;
  /** What is missing and how to get it, for the failure message. */
  missing: string;
}

export const program = (path: string, pkg: string): Prerequisite => ({
  ok: existsSync(path),
  missing: `${path} (Debian package ${pkg}; scripts/install-deps.sh --test installs it)`,
});

export const root = (why: string): Prerequisite => ({ ok: isRoot(), missing: `root privileges (${why})` });

export const osUser = (name: string): Prerequisite => ({
  ok: lookupUser(name) !== null,
  missing: `the ${name} OS user (created by the postgresql-15 package)`,
});

export type Outcome = { run: true } | { run: false; fail: string | null };

/** Run, skip (fail: null), or fail with a message: the whole rule, kept pure for its own test. */
export function outcome(needs: Prerequisite[], ci: boolean): Outcome {
  const missing = needs.filter((n) => !n.ok).map((n) => n.missing);
  if (missing.length === 0) return { run: true };
  return { run: false, fail: ci ? `missing under CI: ${missing.join('; ')}` : null };
}

const ci = (): boolean => Boolean(process.env['CI']);

/** `describe` when every prerequisite holds; otherwise skipped, or one failing test under CI. */
export function describeWith(needs: Prerequisite[], name: string, body: () => void): void {
  const o = outcome(needs, ci());
  if (o.run) describe(name, body);
  else if (o.fail === null) describe.skip(name, body);
  else {
    const message = o.fail;
    describe(name, () => {
      it('has what it needs', () => {
        throw new Error(message);
      });
    });
  }
}

/** `it` when every prerequisite holds; otherwise skipped, or failing under CI. */
export function itWith(needs: Prerequisite[], name: string, fn: () => unknown, timeout?: number): void {
  const o = outcome(needs, ci());
  if (o.run) it(name, fn, timeout);
  else if (o.fail === null) it.skip(name, fn);
  else {
    const message = o.fail;
    it(name, () => {
      throw new Error(message);
    });
  }
}
