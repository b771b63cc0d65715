/** Raw results: one JSON file per batch under bench/results/, never overwriting an earlier one. */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const RESULTS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../results');

/**
 * Writes `doc` to `<name>-<day><suffix>.json`; if that exists (an earlier batch the same day),
 * to `<name>-<day>-<HHMM of startedAt><suffix>.json`. Returns the path.
 */
export function writeResults(name: string, startedAt: Date, doc: unknown, suffix = ''): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const day = startedAt.toISOString().slice(0, 10);
  let out = resolve(RESULTS_DIR, `${name}-${day}${suffix}.json`);
  if (existsSync(out)) {
    const hhmm = startedAt.toISOString().slice(11, 16).replace(':', '');
    out = resolve(RESULTS_DIR, `${name}-${day}-${hhmm}${suffix}.json`);
  }
  writeFileSync(out, `${JSON.stringify(doc, null, 2)}\n`);
  return out;
}
