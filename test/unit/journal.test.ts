import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createActor, createMachine, fromCallback, fromPromise, setup } from 'xstate';
import type { Clock } from '../../src/actors/clock.ts';
import {
  definitionsHash,
  Journal,
  type JournalEntry,
  journalFiles,
  readJournal,
} from '../../src/actors/journal.ts';
import { CliError } from '../../src/cli/errors.ts';
import { defaultJournalPath, openJournal } from '../../src/cli/node-command.ts';
import { makeNodeConfig } from '../helpers/pg-config.ts';

/** A clock whose now() advances by 1 ms per call, from 1000. */
function tickingClock(): Clock {
  let t = 1000;
  return { now: () => t++, setTimeout: () => 0, clearTimeout: () => {} };
}

const toy = createMachine({
  id: 'toy',
  initial: 'idle',
  states: {
    idle: { on: { GO: 'running', PING: {} } },
    running: {
      initial: 'slow',
      states: { slow: { on: { FASTER: 'fast' } }, fast: {} },
      on: { STOP: 'stopped' },
    },
    stopped: { type: 'final' },
  },
});

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pgwarden-journal-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function runToy(journal: Journal): void {
  const actor = createActor(toy, { id: 'node', inspect: (e) => journal.inspect(e) });
  actor.start();
  actor.send({ type: 'PING' });
  actor.send({ type: 'GO', reason: 'test' });
  actor.send({ type: 'FASTER' });
  actor.send({ type: 'STOP' });
}

const EXPECTED: JournalEntry[] = (
  [
    { actor: 'node', kind: 'event', what: 'xstate.init', event: { type: 'xstate.init' } },
    { actor: 'node', kind: 'state', what: 'idle' },
    { actor: 'node', kind: 'event', what: 'PING', event: { type: 'PING' } },
    { actor: 'node', kind: 'event', what: 'GO', event: { type: 'GO', reason: 'test' } },
    { actor: 'node', kind: 'state', what: '{"running":"slow"}' },
    { actor: 'node', kind: 'event', what: 'FASTER', event: { type: 'FASTER' } },
    { actor: 'node', kind: 'state', what: '{"running":"fast"}' },
    { actor: 'node', kind: 'event', what: 'STOP', event: { type: 'STOP' } },
    { actor: 'node', kind: 'state', what: 'stopped' },
  ] as const
).map((e, i) => ({ t: 1000 + i, ...e }));

describe('Journal', () => {
  it("records events (XState's own included) and state changes in order, unchanged states skipped", async () => {
    const j = new Journal({ clock: tickingClock() });
    runToy(j);
    expect(j.entries()).toEqual(EXPECTED);
    await j.close();
  });

  it('readJournal returns the same entries after close()', async () => {
    const path = join(dir, 'journal.bin');
    const j = new Journal({ path, clock: tickingClock() });
    runToy(j);
    await j.close();
    expect(readJournal(path)).toEqual(EXPECTED);
    expect(readJournal(path)).toEqual([...j.entries()]);
  });

  it('frames are 4-byte big-endian length prefixes', async () => {
    const path = join(dir, 'journal.bin');
    const j = new Journal({ path, clock: tickingClock() });
    runToy(j);
    await j.close();
    const buf = readFileSync(path);
    let off = 0;
    let n = 0;
    while (off < buf.length) {
      off += 4 + buf.readUInt32BE(off);
      n++;
    }
    expect(off).toBe(buf.length);
    expect(n).toBe(EXPECTED.length);
  });

  it('a torn final record (file cut by 3 bytes) is skipped, not thrown', async () => {
    const path = join(dir, 'journal.bin');
    const j = new Journal({ path, clock: tickingClock() });
    runToy(j);
    await j.close();
    truncateSync(path, statSync(path).size - 3);
    expect(() => readJournal(path)).not.toThrow();
    expect(readJournal(path)).toEqual(EXPECTED.slice(0, -1));
  });

  it('a torn length prefix is skipped too; an empty file reads as []', () => {
    const path = join(dir, 'torn.bin');
    writeFileSync(path, Buffer.from([0, 0]));
    expect(readJournal(path)).toEqual([]);
    writeFileSync(path, Buffer.alloc(0));
    expect(readJournal(path)).toEqual([]);
  });

  it('appends to an existing journal file', async () => {
    const path = join(dir, 'journal.bin');
    const a = new Journal({ path, clock: tickingClock() });
    runToy(a);
    await a.close();
    const b = new Journal({ path, clock: tickingClock() });
    runToy(b);
    await b.close();
    expect(readJournal(path)).toEqual([...EXPECTED, ...EXPECTED]);
  });

  it('keeps only `capacity` entries in memory, but the file keeps all', async () => {
    const path = join(dir, 'journal.bin');
    const j = new Journal({ path, capacity: 3, clock: tickingClock() });
    runToy(j);
    expect(j.entries()).toEqual(EXPECTED.slice(-3));
    await j.close();
    expect(readJournal(path)).toEqual(EXPECTED);
  });

  it('names child actors by their id path', async () => {
    const parent = createMachine({
      id: 'parent',
      initial: 'on',
      states: {
        on: {
          invoke: {
            id: 'election',
            src: createMachine({
              id: 'election',
              initial: 'follower',
              states: { follower: { on: { WIN: 'leader' } }, leader: {} },
            }),
          },
          on: {
            KICK: { actions: ({ self }) => self.getSnapshot().children.election?.send({ type: 'WIN' }) },
          },
        },
      },
    });
    const j = new Journal({ clock: tickingClock() });
    const actor = createActor(parent, { id: 'node', inspect: (e) => j.inspect(e) });
    actor.start();
    actor.send({ type: 'KICK' });
    const compact = j.entries().map((e) => [e.actor, e.kind, e.what]);
    expect(compact).toEqual([
      ['node', 'event', 'xstate.init'],
      ['node.election', 'event', 'xstate.init'],
      ['node.election', 'state', 'follower'],
      ['node', 'state', 'on'],
      ['node', 'event', 'KICK'],
      ['node.election', 'event', 'WIN'],
      ['node.election', 'state', 'leader'],
    ]);
    actor.stop();
    await j.close();
  });

  it('ignores inspection events of callback actors without a state value', async () => {
    const m = createMachine({ id: 'm', invoke: { id: 'cb', src: fromCallback(() => () => {}) } });
    const j = new Journal({ clock: tickingClock() });
    const actor = createActor(m, { id: 'node', inspect: (e) => j.inspect(e) });
    actor.start();
    expect(j.entries().filter((e) => e.actor === 'node.cb')).toEqual([]);
    actor.stop();
    await j.close();
  });

  it("records invoked actors' results and errors, and timers firing, as plain data", async () => {
    const m = setup({
      actors: {
        ok: fromPromise(async () => ({ won: true })),
        bad: fromPromise(async () => {
          throw new TypeError('etcd is away');
        }),
      },
    }).createMachine({
      id: 'm',
      initial: 'a',
      states: {
        a: { invoke: { src: 'ok', onDone: 'b' } },
        b: { invoke: { src: 'bad', onError: 'c' } },
        c: { after: { 5: 'd' } },
        d: {},
      },
    });
    const path = join(dir, 'j.bin');
    const j = new Journal({ path, clock: tickingClock() });
    const actor = createActor(m, { id: 'node', inspect: (e) => j.inspect(e) });
    actor.start();
    await new Promise((r) => setTimeout(r, 30));
    const events = j.entries().filter((e) => e.kind === 'event');
    expect(events.map((e) => e.what)).toEqual([
      'xstate.init',
      'xstate.done.actor.0.m.a',
      'xstate.error.actor.0.m.b',
      'xstate.after.5.m.c',
    ]);
    expect(events[1]!.event).toMatchObject({ output: { won: true } });
    expect(events[2]!.event).toMatchObject({ error: { name: 'TypeError', message: 'etcd is away' } });
    // The file reads back the same (an Error packed as is would not).
    actor.stop();
    await j.close();
    expect(readJournal(path)).toEqual([...j.entries()]);
  });

  it('a header names the format, the version and the machine definitions', async () => {
    const path = join(dir, 'j.bin');
    const j = new Journal({ path, clock: tickingClock() });
    const machines = definitionsHash([toy]);
    j.header({ version: '0.1.0', machines, node: 'node1', settings: { ttl: 30 } });
    runToy(j);
    await j.close();
    const [first] = readJournal(path);
    expect(first).toEqual({
      t: 1000,
      actor: 'node1',
      kind: 'header',
      what: 'pgwarden journal 2',
      event: { version: '0.1.0', machines, node: 'node1', settings: { ttl: 30 } },
    });
    expect(machines).toMatch(/^[0-9a-f]{64}$/);
    // Another definition (one more state) has another fingerprint.
    const other = createMachine({ ...toy.config, states: { ...toy.config.states, extra: {} } });
    expect(definitionsHash([other])).not.toBe(machines);
    expect(definitionsHash([toy])).toBe(machines);
  });

  it('rotates: at most four files of a quarter of maxBytes each, each starting with the header, newest last', async () => {
    const path = join(dir, 'j.bin');
    const j = new Journal({ path, clock: tickingClock(), maxBytes: 4 * 400 });
    j.header({ version: '0.1.0', machines: 'f'.repeat(64), node: 'node1', settings: {} });
    for (let i = 0; i < 200; i++) runToy(j);
    await j.close();
    const files = journalFiles(path);
    expect(files).toEqual([`${path}.3`, `${path}.2`, `${path}.1`, path]);
    for (const f of files) {
      expect(statSync(f).size).toBeLessThanOrEqual(400 + 200);
      expect(readJournal(f)[0]).toMatchObject({ kind: 'header', actor: 'node1' });
    }
    // Read oldest first, without the headers: the last entries written, in order.
    const read = files.flatMap((f) => readJournal(f)).filter((e) => e.kind !== 'header');
    const all = j.entries();
    expect(read.length).toBeGreaterThan(10);
    expect(read).toEqual(all.slice(all.length - read.length));
  });

  it('close() without a file resolves', async () => {
    await expect(new Journal().close()).resolves.toBeUndefined();
  });
});

describe('a journal that cannot be written, and where pgwarden node puts it', () => {
  it('a failed write (disk full) is said once, and the journal goes on in memory', () => {
    const said: string[] = [];
    const journal = new Journal({ path: '/dev/full', onError: (m) => said.push(m) });
    runToy(journal);
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(
      /^journal: writing \/dev\/full failed \(.*ENOSPC.*\); it goes on in memory only$/,
    );
    expect(journal.entries().some((e) => e.what === 'GO')).toBe(true);
  });

  it('by default beside the data directory, made if missing; --no-journal keeps it in memory', () => {
    const config = makeNodeConfig({
      name: 'n1',
      pgPort: 5432,
      apiPort: 8008,
      dataDir: join(dir, 'n1', 'data'),
    });
    expect(defaultJournalPath(config)).toBe(join(dir, 'n1', 'n1.journal'));
    const log: string[] = [];
    const journal = openJournal(config, {}, 1024 * 1024, (m) => log.push(m));
    runToy(journal);
    expect(statSync(join(dir, 'n1', 'n1.journal')).size).toBeGreaterThan(0);
    expect(log).toEqual([]);
    const none = openJournal(config, { journal: false }, 1024 * 1024, (m) => log.push(m));
    runToy(none);
    expect(none.entries().length).toBeGreaterThan(0);
  });

  it('an explicit --journal that cannot be opened is an error (exit 2); the default place only costs the file', () => {
    // A plain file where a directory should be: nothing can be created under it.
    const blocker = join(dir, 'not-a-directory');
    writeFileSync(blocker, '');
    const config = makeNodeConfig({
      name: 'n1',
      pgPort: 5432,
      apiPort: 8008,
      dataDir: join(blocker, 'n1', 'data'),
    });
    const log: string[] = [];
    let error: unknown = null;
    try {
      openJournal(config, { journal: join(blocker, 'j.journal') }, 1024, (m) => log.push(m));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).exitCode).toBe(2);
    expect((error as CliError).message).toContain(`cannot open the journal ${join(blocker, 'j.journal')}`);
    const fallback = openJournal(config, {}, 1024, (m) => log.push(m));
    runToy(fallback);
    expect(fallback.entries().length).toBeGreaterThan(0);
    expect(log).toHaveLength(1);
    expect(log[0]).toContain(`cannot open the journal ${join(blocker, 'n1', 'n1.journal')}`);
    expect(log[0]).toContain('it is kept in memory only');
  });
});
