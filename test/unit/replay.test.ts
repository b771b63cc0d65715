/**
 * `pgwarden replay` on the simulator's journals: every seed of a fixed budget replays 100 %, and
 * the replay can fail — a tampered event, a tampered state, a changed guard, other machine
 * definitions — each caught with what differed.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnyStateMachine } from 'xstate';
import { type JournalEntry, readJournal, writeJournal } from '../../src/actors/journal.ts';
import { CliError } from '../../src/cli/errors.ts';
import { runReplay } from '../../src/cli/replay-command.ts';
import {
  agentRuns,
  formatDivergence,
  ReplayRefused,
  replayRuns,
  statesAt,
  stateText,
  timeline,
} from '../../src/replay/index.ts';
import { runSchedule } from '../../src/testing/runner/index.ts';

const SEEDS = [1, 2, 3, 4, 5, 6];
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pgwarden-replay-'));
  for (const synchronousMode of [false, true]) {
    for (const seed of SEEDS) {
      const r = await runSchedule({ seed, synchronousMode, journalDir: dir });
      expect(r.ok).toBe(true);
    }
  }
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function journal(name: string): JournalEntry[] {
  return readJournal(join(dir, name));
}

function replayCli(files: string[], opts = {}): { code: number; out: string } {
  const lines: string[] = [];
  const code = runReplay(files, opts, (t) => lines.push(t));
  return { code, out: lines.join('\n') };
}

describe('replaying simulated runs', () => {
  it('every journal of the budget (6 seeds, async and sync, 3 nodes) replays 100 %, timers due when they fired', () => {
    const files = readdirSync(dir).sort();
    expect(files).toHaveLength(SEEDS.length * 2 * 3);
    for (const f of files) {
      const report = replayRuns(agentRuns(journal(f)));
      expect(report.divergence && formatDivergence(report.divergence), f).toBeNull();
      expect(report.warnings, f).toEqual([]);
      expect(report.skipped, f).toEqual([]);
      expect(report.transitions, f).toBeGreaterThan(20);
      expect(report.reproduced, f).toBe(report.transitions);
    }
  });

  it('the command: one summary line, exit 0', () => {
    const { code, out } = replayCli(
      readdirSync(dir)
        .filter((f) => f.startsWith('1-'))
        .map((f) => join(dir, f)),
    );
    expect(code).toBe(0);
    expect(out).toMatch(/^\d+ events, \d+ transitions, 100 % reproduced \(3 nodes\)$/);
  });

  it('a tampered event (the initialize race answered the other way) is a divergence: exit 1, the event, expected and actual', () => {
    const entries = journal('1-node1.journal');
    const i = entries.findIndex((e) => e.what.endsWith('bootstrap.racingInitialize') && e.kind === 'event');
    expect(i).toBeGreaterThan(0);
    const won = (entries[i]!.event as { output: boolean }).output;
    entries[i] = { ...entries[i]!, event: { ...(entries[i]!.event as object), output: !won } };
    const path = join(dir, 'tampered-event.journal');
    writeJournal(path, entries);
    try {
      const { code, out } = replayCli([path]);
      expect(code).toBe(1);
      expect(out).toContain('divergence: node1 node at');
      expect(out).toContain('the replay moved elsewhere');
      expect(out).toMatch(/expected {2}bootstrap\.(initdb|waitingForLeader)/);
      expect(out).toMatch(/actual {4}bootstrap\.(initdb|waitingForLeader)/);
      expect(out).toContain('gotInitializeLock ✓ → gotInitializeLock ✗   ◀ differs');
    } finally {
      rmSync(path);
    }
  });

  it('a tampered state is a divergence', () => {
    const entries = journal('2-node2.journal');
    const i = entries.findIndex(
      (e) => e.kind === 'state' && e.actor === 'node' && e.what.includes('"replica"'),
    );
    entries[i] = { ...entries[i]!, what: '{"active":{"running":"primary"}}' };
    const report = replayRuns(agentRuns(entries));
    expect(report.divergence).toMatchObject({
      node: 'node2',
      actor: 'node',
      expected: '{"active":{"running":"primary"}}',
    });
    expect(stateText(report.divergence!.actual)).toBe('active.running.replica');
  });

  it('a removed transition is a divergence (the replay moved where the journal has nothing)', () => {
    const entries = journal('3-node3.journal');
    const states = entries.flatMap((e, i) => (e.kind === 'state' && e.actor === 'node.election' ? [i] : []));
    const last = states[states.length - 1]!;
    const report = replayRuns(agentRuns(entries.filter((_, i) => i !== last)));
    expect(report.divergence?.actor).toBe('node.election');
    expect(report.divergence?.expected).toBeNull();
  });

  it('a changed guard is a divergence, with the guard outcome that differed', () => {
    const flipped = (m: AnyStateMachine) =>
      m.id === 'election' ? m.provide({ guards: { unlocked: () => false } } as never) : m;
    const report = replayRuns(agentRuns(journal('1-node2.journal')), { adjust: flipped });
    expect(report.divergence).not.toBeNull();
    const d = report.divergence!;
    expect(d.actor).toBe('node.election');
    const i = d.recordedGuards!.findIndex(([g]) => g === 'unlocked');
    expect(d.recordedGuards![i]).toEqual(['unlocked', true]);
    expect(d.replayedGuards![i]).toEqual(['unlocked', false]);
  });

  it('other machine definitions: refused with a clear message (exit 2), replayed with a warning under --force', () => {
    const entries = journal('4-node1.journal');
    const header = entries[0]!;
    entries[0] = {
      ...header,
      event: { ...(header.event as object), machines: 'f'.repeat(64), version: '0.0.9' },
    };
    const path = join(dir, 'other-version.journal');
    writeJournal(path, entries);
    try {
      expect(() => replayRuns(agentRuns(entries))).toThrow(ReplayRefused);
      expect(() => replayCli([path])).toThrow(CliError);
      try {
        replayCli([path]);
      } catch (err) {
        expect((err as CliError).exitCode).toBe(2);
        expect((err as Error).message).toMatch(
          /written by pgwarden 0\.0\.9 with other machine definitions.*--force/,
        );
      }
      const { code, out } = replayCli([path], { force: true });
      expect(code).toBe(0);
      expect(out).toContain('warning: the journal of node1 was written by pgwarden 0.0.9');
    } finally {
      rmSync(path);
    }
  });

  // XState's `after` and the election's own delayed event (the leader's refresh timer).
  it.each([
    ['xstate.after.', (what: string) => what.startsWith('xstate.after.')],
    ['REFRESH_DUE', (what: string) => what === 'REFRESH_DUE'],
  ])('a timer event (%s) recorded before the replay armed anything that was due: a warning', (_, isIt) => {
    const entries = journal('5-node1.journal');
    const i = entries.findIndex((e, k) => k > 200 && e.kind === 'event' && isIt(e.what));
    expect(i).toBeGreaterThan(0);
    entries[i] = { ...entries[i]!, t: entries[i]!.t - 5000, m: (entries[i]!.m ?? entries[i]!.t) - 5000 };
    const report = replayRuns(agentRuns(entries));
    expect(report.warnings.some((w) => w.includes(entries[i]!.what) && w.includes('before any timer'))).toBe(
      true,
    );
  });

  it('not a journal: exit 2 with why', () => {
    const path = join(dir, 'not-a-journal');
    writeJournal(path, []);
    try {
      expect(() => replayCli([join(dir, 'missing')])).toThrow(/no journal at/);
    } finally {
      rmSync(path);
    }
  });
});

describe('replay --at and --timeline', () => {
  it('--at rebuilds each node machine state and context at that time', () => {
    const runs = agentRuns(journal('1-node1.journal'));
    const first = runs[0]!.entries[0]!.t;
    const early = statesAt(runs, first).get('node1')!;
    expect(early.get('node')?.state).toMatch(/^bootstrap\./);
    // Right after the node machine first reached `active` (whatever the seed's faults do later).
    const activeAt = runs[0]!.entries.find(
      (e) => e.kind === 'state' && e.actor === 'node' && e.what.includes('"active"'),
    )!.t;
    const later = statesAt(runs, activeAt + 1).get('node1')!;
    expect(later.get('node')?.state).toMatch(/^active\./);
    expect((later.get('node')!.context as { name: string }).name).toBe('node1');
  });

  it('--timeline merges every node in time order, each move with its cause', () => {
    const runs = ['1-node1', '1-node2', '1-node3'].flatMap((n) => agentRuns(journal(`${n}.journal`)));
    const lines = timeline(runs, (a) => a === 'node');
    expect(lines.map((l) => l.t)).toEqual([...lines.map((l) => l.t)].sort((a, b) => a - b));
    expect(new Set(lines.map((l) => l.node))).toEqual(new Set(['node1', 'node2', 'node3']));
    const bootstrap = lines.find((l) => l.to === 'bootstrap.initdb');
    expect(bootstrap?.from).toBe('bootstrap.racingInitialize');
    expect(bootstrap?.cause).toMatch(/^xstate\.done\.actor\..*racingInitialize$/);
    const { code, out } = replayCli(
      ['1-node1', '1-node2', '1-node3'].map((n) => join(dir, `${n}.journal`)),
      { timeline: true },
    );
    expect(code).toBe(0);
    expect(out).toMatch(
      /bootstrap\.racingInitialize → bootstrap\.initdb {2}← done bootstrap\.racingInitialize {2}\[gotInitializeLock\]/,
    );
  });

  it('--at with something that is not a time: exit 2', () => {
    expect(() => replayCli([join(dir, '1-node1.journal')], { at: 'yesterday-ish' })).toThrow(/is not a time/);
  });
});
