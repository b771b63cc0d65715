import { describe, expect, it } from 'vitest';
import {
  ALARM_SHOWN_MS,
  clusterAlarms,
  fenceReport,
  knownServersOf,
  MAX_KNOWN_SERVERS,
  orphanWatchTargets,
  readAddressBook,
} from '../../src/cluster/orphans.ts';
import { type ClusterView, emptyClusterView } from '../../src/cluster/view.ts';
import { member } from '../helpers/members.ts';

const viewOf = (...names: string[]): ClusterView => ({ ...emptyClusterView, members: names.map(member) });
const at = (name: string, host = name, port = 5432) => ({ name, host, port });

describe('the address book to fence from (knownServersOf)', () => {
  it('holds every other member with the address its member key gives', () => {
    expect(knownServersOf([], viewOf('a', 'b', 'c'), 'a')).toEqual([at('b'), at('c')]);
  });

  it('keeps members whose keys expired (an orphan’s expire with its lease), and is the same array when nothing is new', () => {
    const book = knownServersOf([], viewOf('a', 'b', 'c'), 'a');
    expect(knownServersOf(book, viewOf('a'), 'a')).toBe(book);
    expect(knownServersOf(book, viewOf('a', 'c'), 'a')).toBe(book);
  });

  it('starts from the book the data directory kept, and names an address by its latest member', () => {
    const book = knownServersOf([at('b'), at('old', 'c')], viewOf('a', 'c'), 'a');
    expect(book).toEqual([at('b'), at('c')]);
  });

  it('follows a member whose address changed, and never holds this node', () => {
    const moved = {
      ...member('b'),
      data: { ...member('b').data, conn_url: 'postgres://10.0.0.9:6432/postgres' },
    };
    const book = knownServersOf([at('b')], { ...emptyClusterView, members: [member('a'), moved] }, 'a');
    expect(book).toEqual([at('b'), at('b', '10.0.0.9', 6432)]);
  });

  it(`keeps the ${MAX_KNOWN_SERVERS} most recently learned`, () => {
    const names = Array.from({ length: MAX_KNOWN_SERVERS + 4 }, (_, i) => `n${i}`);
    const book = knownServersOf([], viewOf('a', ...names), 'a');
    expect(book).toHaveLength(MAX_KNOWN_SERVERS);
    expect(book.at(-1)).toEqual(at(names.at(-1)!));
  });

  it('over the bound, drops servers that are not members of the view before any that are', () => {
    const old = Array.from({ length: MAX_KNOWN_SERVERS }, (_, i) => at(`old${i}`));
    // The leader's key was learned first; churn brings new members: the leader stays known.
    const book = knownServersOf([at('leader'), ...old.slice(1)], viewOf('a', 'leader', 'n1', 'n2'), 'a');
    expect(book).toHaveLength(MAX_KNOWN_SERVERS);
    expect(book.map((t) => t.name)).toContain('leader');
    expect(book.map((t) => t.name)).toEqual(expect.arrayContaining(['n1', 'n2']));
    expect(book.map((t) => t.name)).not.toContain('old1');
  });
});

describe('orphanWatchTargets: what the leader looks at again every loop', () => {
  const book = [at('b'), at('c')];
  it('nothing while every server of the book runs as a replica', () => {
    expect(orphanWatchTargets(book, viewOf('a', 'b', 'c'), 'a', false)).toEqual([]);
  });

  it('a server whose key expired, or whose key says it runs as a primary', () => {
    const view = viewOf('a', 'c');
    expect(orphanWatchTargets(book, view, 'a', false)).toEqual([at('b')]);
    const primaryC: ClusterView = {
      ...view,
      members: [member('a'), { ...member('c'), data: { ...member('c').data, role: 'master' as const } }],
    };
    expect(orphanWatchTargets(book, primaryC, 'a', false)).toEqual([at('b'), at('c')]);
  });

  it('nothing in maintenance mode: a server promoted by hand is the operator’s', () => {
    expect(orphanWatchTargets(book, viewOf('a'), 'a', true)).toEqual([]);
  });
});

describe('readAddressBook', () => {
  it('keeps well-formed entries only, never this node', () => {
    expect(
      readAddressBook([at('b'), at('a'), { name: 'x' }, 'y', null, { ...at('c'), extra: 1 }], 'a'),
    ).toEqual([at('b'), at('c')]);
    expect(readAddressBook({ b: 1 }, 'a')).toEqual([]);
    expect(readAddressBook(null, 'a')).toEqual([]);
  });
});

describe('fenceReport', () => {
  it('says what was found at each server', () => {
    const line = fenceReport([
      { target: at('b'), outcome: { fenced: true, terminated: 3, lsn: 1 } },
      { target: at('c'), outcome: { fenced: false, reason: 'in recovery' } },
      { target: at('d'), error: 'timeout' },
    ]);
    expect(line).toMatch(/b: FENCED, an orphan primary at b:5432 .*3 client session/);
    expect(line).toContain('c: in recovery');
    expect(line).toContain('d: not reached (timeout)');
  });
});

describe('clusterAlarms: every member shows every orphan fenced in the last hour', () => {
  const now = Date.parse('2026-12-05T12:00:00Z');
  const alarm = (minutesAgo: number, member = 'old') => ({
    at: new Date(now - minutesAgo * 60_000).toISOString(),
    member,
    message: `fenced ${member}`,
  });

  it("merges the members' keys with its own, says who raised each, oldest first, drops what is stale or malformed", () => {
    const view: ClusterView = {
      ...emptyClusterView,
      members: [
        { ...member('b'), data: { ...member('b').data, alarms: [alarm(5), alarm(90), { at: 3 }, 'x'] } },
        { ...member('c'), data: { ...member('c').data, alarms: 'nonsense' } },
        // Its own key as published: counted once with what it holds in memory.
        { ...member('a'), data: { ...member('a').data, alarms: [alarm(2, 'older')] } },
      ],
    };
    expect(clusterAlarms(view, 'a', [alarm(2, 'older')], now)).toEqual([
      { ...alarm(5), by: 'b' },
      { ...alarm(2, 'older'), by: 'a' },
    ]);
    expect(clusterAlarms(null, 'a', [alarm(2, 'older')], now + ALARM_SHOWN_MS)).toEqual([]);
  });

  it('keeps the newest ten', () => {
    const own = Array.from({ length: 14 }, (_, i) => alarm(30 - i, `m${i}`));
    const shown = clusterAlarms(null, 'a', own, now);
    expect(shown).toHaveLength(10);
    expect(shown.at(-1)?.member).toBe('m13');
  });
});
