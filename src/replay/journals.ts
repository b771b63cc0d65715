/**
 * Journals as a replay reads them: files (a rotated journal's files oldest first) into one
 * sequence of entries per node, and each node's sequence cut into agent runs at its headers.
 * The header a rotated file starts with repeats the run's own (same time): it continues the run.
 */
import { realpathSync } from 'node:fs';
import {
  JOURNAL_FORMAT,
  type JournalEntry,
  type JournalHeader,
  journalFiles,
  readJournal,
} from '../actors/journal.ts';

/** One agent process's part of a journal: its header and what it wrote. */
export interface AgentRun {
  node: string;
  header: JournalHeader | null;
  entries: JournalEntry[];
}

export class JournalError extends Error {}

/**
 * Each path with the rotated files beside it (`path.3` … `path.1`, `path`), each file once,
 * read in that order.
 */
export function loadJournalFiles(paths: readonly string[]): JournalEntry[][] {
  const seen = new Set<string>();
  const out: JournalEntry[][] = [];
  for (const path of paths) {
    const files = journalFiles(path);
    if (files.length === 0) throw new JournalError(`no journal at ${path}`);
    const entries: JournalEntry[] = [];
    for (const file of files) {
      const real = realpathSync(file);
      if (seen.has(real)) continue;
      seen.add(real);
      let read: JournalEntry[];
      try {
        read = readJournal(file);
      } catch (err) {
        throw new JournalError(`${file} is not a pgwarden journal (${(err as Error).message})`);
      }
      if (read.length > 0 && !isEntry(read[0])) throw new JournalError(`${file} is not a pgwarden journal`);
      entries.push(...read);
    }
    if (entries.length > 0) out.push(entries);
  }
  return out;
}

function isEntry(e: unknown): e is JournalEntry {
  const x = e as JournalEntry;
  return typeof x === 'object' && x !== null && typeof x.t === 'number' && typeof x.actor === 'string';
}

/** A journal's entries cut into agent runs; entries before any header form a run of their own. */
export function agentRuns(entries: readonly JournalEntry[]): AgentRun[] {
  const runs: AgentRun[] = [];
  let run: AgentRun | null = null;
  for (const e of entries) {
    if (e.kind === 'header') {
      if (e.what !== JOURNAL_FORMAT) throw new JournalError(`unknown journal format '${e.what}'`);
      const header = e.event as JournalHeader;
      const continues = run?.header && runStart(run) === e.t && run.node === header.node;
      if (!continues) {
        run = { node: header.node, header, entries: [e] };
        runs.push(run);
      }
      continue;
    }
    if (!run) {
      run = { node: '?', header: null, entries: [] };
      runs.push(run);
    }
    run.entries.push(e);
  }
  return runs;
}

function runStart(run: AgentRun): number | undefined {
  return run.entries[0]?.kind === 'header' ? run.entries[0].t : undefined;
}
