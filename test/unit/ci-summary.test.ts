/**
 * CI cannot go green by not running tests: a file whose setup broke counts as failed, a skip under
 * CI counts as failed, and tests that need a program or root fail under CI when it is missing.
 */
import { describe, expect, it } from 'vitest';
import { summarize, type VitestReport } from '../../scripts/vitest-summary.ts';
import { outcome } from '../helpers/prerequisites.ts';

const file = (status: string, ...tests: string[]) => ({
  name: `/repo/test/${status}.test.ts`,
  status,
  assertionResults: tests.map((s, i) => ({ fullName: `t${i}`, status: s })),
});

describe('the closing line', () => {
  it('counts passed, failed and skipped tests', () => {
    const report: VitestReport = {
      testResults: [file('passed', 'passed', 'passed', 'skipped'), file('failed', 'passed', 'failed')],
    };
    expect(summarize(report, false)).toMatchObject({ line: '3 passed, 1 failed, 1 skipped', ok: false });
    expect(summarize({ testResults: [file('passed', 'passed')] }, false)).toMatchObject({
      line: '1 passed, 0 failed',
      ok: true,
    });
  });

  it('a file whose beforeAll threw reports its tests as skipped: they count as failed', () => {
    const broken = { ...file('failed', 'skipped', 'skipped'), message: '' };
    const s = summarize({ testResults: [file('passed', 'passed'), broken] }, false);
    expect(s).toMatchObject({ line: '1 passed, 2 failed', ok: false });
    expect(s.notes).toEqual([expect.stringContaining('failed.test.ts failed outside its tests')]);
    // A file that fails to import has no tests at all: still one failure.
    expect(summarize({ testResults: [file('failed')] }, false).line).toBe('0 passed, 1 failed');
  });

  it('under CI a skipped test is a failed one, named', () => {
    const report = { testResults: [file('passed', 'passed', 'skipped')] };
    expect(summarize(report, false)).toMatchObject({ line: '1 passed, 0 failed, 1 skipped', ok: true });
    const s = summarize(report, true);
    expect(s).toMatchObject({ line: '1 passed, 1 failed', ok: false });
    expect(s.notes).toEqual(['skipped under CI, counted as failed: /repo/test/passed.test.ts > t1']);
  });
});

describe('tests that need something of the machine', () => {
  const patronictl = { ok: false, missing: '/usr/bin/patronictl (Debian package patroni)' };
  const present = { ok: true, missing: 'never shown' };

  it('run when it is there', () => {
    expect(outcome([present], true)).toEqual({ run: true });
    expect(outcome([], false)).toEqual({ run: true });
  });

  it('are skipped without it, outside CI', () => {
    expect(outcome([present, patronictl], false)).toEqual({ run: false, fail: null });
  });

  it('fail under CI, saying what is missing', () => {
    expect(outcome([patronictl, present], true)).toEqual({
      run: false,
      fail: 'missing under CI: /usr/bin/patronictl (Debian package patroni)',
    });
  });
});
