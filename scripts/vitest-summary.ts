/**
 * The closing line of `npm test` and CI, from vitest's JSON report: `N passed, N failed` and
 * `, N skipped` when any were. Exit 1 when anything failed.
 *
 * Two ways a run could look greener than it is, closed here:
 * - a file whose setup failed (a beforeAll that threw) reports its tests as skipped, not failed:
 *   they count as failed;
 * - under CI (`CI` set) nothing may be skipped: a skipped test is listed and counted as failed, so a
 *   missing program or privilege cannot hide behind a skip (tests that need one fail instead,
 *   see test/helpers/prerequisites.ts).
 */
import { readFileSync } from 'node:fs';

interface Assertion {
  fullName?: string;
  status?: string;
}
interface FileResult {
  name?: string;
  status?: string;
  message?: string;
  assertionResults?: Assertion[];
}
export interface VitestReport {
  testResults?: FileResult[];
}

export interface Summary {
  passed: number;
  failed: number;
  skipped: number;
  line: string;
  /** What else to print: the tests that make the run fail beyond failed assertions. */
  notes: string[];
  ok: boolean;
}

export function summarize(report: VitestReport, ci: boolean): Summary {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const notes: string[] = [];
  for (const file of report.testResults ?? []) {
    const tests = file.assertionResults ?? [];
    const failedHere = tests.filter((t) => t.status === 'failed').length;
    const skippedHere = tests.filter(
      (t) => t.status === 'skipped' || t.status === 'pending' || t.status === 'todo',
    );
    passed += tests.filter((t) => t.status === 'passed').length;
    failed += failedHere;
    if (file.status === 'failed' && failedHere === 0) {
      // The file broke outside any test (import error, failing setup): its tests never ran.
      failed += Math.max(1, skippedHere.length);
      notes.push(
        `${file.name ?? 'a test file'} failed outside its tests${file.message ? `: ${file.message}` : ''}`,
      );
      continue;
    }
    if (!ci) {
      skipped += skippedHere.length;
      continue;
    }
    failed += skippedHere.length;
    for (const t of skippedHere)
      notes.push(`skipped under CI, counted as failed: ${file.name ?? ''} > ${t.fullName ?? ''}`);
  }
  const line = `${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : '');
  return { passed, failed, skipped, line, notes, ok: failed === 0 };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  let report: VitestReport = {};
  try {
    report = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as VitestReport;
  } catch {
    // No report: vitest died before writing one. The line below then says 0 passed.
  }
  const s = summarize(report, Boolean(process.env['CI']));
  for (const n of s.notes) console.log(n);
  const empty = (report.testResults ?? []).length === 0;
  console.log(empty ? '0 passed, 1 failed' : s.line);
  process.exit(s.ok && !empty ? 0 : 1);
}
