import { describe, expect, it } from 'vitest';
import type { PostgresStatus } from '../../src/actors/postgres.ts';
import type { NodeReport } from '../../src/cluster/report.ts';
import { type ClusterView, emptyClusterView, type Member } from '../../src/cluster/view.ts';
import { healthCodes, healthStatus, parseLag, replayedLocation } from '../../src/http/health-rules.ts';
import { pgStatus as basePgStatus, MB } from '../helpers/pg-status.ts';

// ---------------------------------------------------------------------------------------------
// Hand-built reports (see src/cluster/report.ts)
// ---------------------------------------------------------------------------------------------

const pgStatus = (over: Partial<PostgresStatus> = {}) => basePgStatus({ timeline: 1, ...over });

const replicaPg = (replayed: number, received = replayed): PostgresStatus =>
  pgStatus({
    inRecovery: true,
    currentLsn: null,
    receivedLsn: received,
    replayedLsn: replayed,
    replicationState: 'streaming',
  });

function member(name: string): Member {
  return {
    name,
    index: '10',
    session: '1',
    data: {
      conn_url: `postgres://10.0.0.${name.length}:5432/postgres`,
      api_url: `http://10.0.0.${name.length}:8008/patroni`,
      state: 'running',
      role: 'replica',
      version: '3.0.2',
    },
  };
}

/** A view where `n1` holds the lock, `/status` optime 100 MB, optionally `/sync`. */
function view(over: Partial<ClusterView> = {}): ClusterView {
  return {
    ...emptyClusterView,
    revision: '42',
    initialize: '7123456789012345678',
    leader: { name: 'n1', index: '5', session: '1' },
    members: [member('n1'), member('n2'), member('n3')],
    status: { optime: 100 * MB },
    ...over,
  };
}

function report(over: Partial<NodeReport> = {}): NodeReport {
  return {
    name: 'n2',
    scope: 'batman',
    connUrl: 'postgres://10.0.0.2:5432/postgres',
    apiUrl: 'http://10.0.0.2:8008/patroni',
    tags: {},
    state: 'running',
    role: 'replica',
    pg: replicaPg(100 * MB),
    systemIdentifier: '7123456789012345678',
    isLeader: false,
    view: view(),
    dcsLastSeen: 1795637532,
    paused: false,
    synchronousMode: false,
    ...over,
  };
}

const leader = (over: Partial<NodeReport> = {}): NodeReport =>
  report({ name: 'n1', role: 'master', pg: pgStatus(), isLeader: true, ...over });
const replica = (over: Partial<NodeReport> = {}): NodeReport => report(over);

type Q = Record<string, string | undefined>;
const codes = (r: NodeReport, paths: readonly string[], q: Q = {}) =>
  Object.fromEntries(paths.map((p) => [p, healthStatus(p, q, r)]));

const LEADER_PATHS = ['/leader'] as const;
const STANDBY_LEADER_PATHS = ['/standby-leader', '/standby_leader'] as const;
const PRIMARY_PATHS = ['/', '/primary', '/master', '/read-write'] as const;
const ALL_PATHS = [
  '/',
  '/primary',
  '/master',
  '/read-write',
  '/leader',
  '/standby-leader',
  '/standby_leader',
  '/replica',
  '/read-only',
  '/health',
  '/sync',
  '/synchronous',
  '/async',
  '/asynchronous',
  '/read-only-sync',
  '/read-only-synchronous',
  '/nonsense',
] as const;

// ---------------------------------------------------------------------------------------------
// §2.5 lag parsing
// ---------------------------------------------------------------------------------------------

describe('parseLag (§2.5)', () => {
  it('absent → no limit', () => {
    expect(parseLag(undefined)).toBeUndefined();
  });

  it.each([
    ['0', 0],
    ['1', 1],
    ['1048576', 1048576],
    ['16B', 16],
    ['1kB', 1024],
    ['1024kB', 1048576],
    ['10MB', 10485760],
    ['1GB', 1073741824],
    ['1TB', 1024 ** 4],
    ['1.5MB', 1572864],
    [' 10 MB ', 10485760],
    ['+5kB', 5120],
    ['-1', -1],
  ])('%j → %d bytes', (input, bytes) => {
    expect(parseLag(input)).toBe(bytes);
  });

  it.each(['mb', 'KB', '10mb', '10KB', '10 Mb', '1kb', '5 bytes', '3PB'])(
    'unknown (case-sensitive) unit %j disables the filter',
    (input) => {
      expect(parseLag(input)).toBeUndefined();
    },
  );

  it.each(['', 'abc', 'MB', 'ten', '1 2', '--1', '1e', 'NaN', 'Infinity'])(
    'garbage %j → undefined',
    (input) => {
      expect(parseLag(input)).toBeUndefined();
    },
  );

  // Patroni's parse_int/strtol reads the integer part like C strtol with base 0, so `0x10` is 16 and a
  // leading 0 means octal (`010` is 8); a following `.`, `e` or `E` re-reads the whole number as a float.
  it('hex and octal integers as Patroni strtol (base 0) reads them', () => {
    expect(parseLag('0x10')).toBe(16);
    expect(parseLag('010')).toBe(8);
    expect(parseLag('0x1kB')).toBe(1024);
    expect(parseLag(' +0x400 kB ')).toBe(1048576);
    expect(parseLag('-070')).toBe(-56);
    expect(parseLag('010.5kB')).toBe(10752);
    expect(parseLag('1e3')).toBe(1000);
    expect(parseLag('.5kB')).toBe(512);
    expect(parseLag('09')).toBeUndefined();
    expect(parseLag('0x')).toBeUndefined();
  });

  // Patroni's convert_to_base_unit: a fractional value in unit U is rounded (half-to-even) to a
  // multiple of the next smaller unit, e.g. MB → whole kB. 1.0001MB is 1048680.86 bytes → 1024.1 kB
  // → 1024 kB = 1048576.
  it('fractional units are rounded to a multiple of the next smaller unit', () => {
    expect(parseLag('1.0001MB')).toBe(1048576);
    expect(parseLag('1.0001GB')).toBe(1073741824);
    expect(parseLag('0.5B')).toBe(0);
    expect(parseLag('2.5')).toBe(2);
    expect(parseLag('3.5')).toBe(4);
    expect(parseLag('1.5B')).toBe(2);
  });
});

describe('replayedLocation', () => {
  it('is the replayed LSN on a running replica and 0 otherwise', () => {
    expect(replayedLocation(replica({ pg: replicaPg(7000, 9000) }))).toBe(7000);
    expect(replayedLocation(leader())).toBe(0);
    expect(replayedLocation(replica({ pg: null, state: 'stopped' }))).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------
// §2.4 path table
// ---------------------------------------------------------------------------------------------

describe('healthStatus on a leader (lock held, not in recovery)', () => {
  const r = leader();

  it('computes leader=primary=200, standby_leader=replica=503', () => {
    expect(healthCodes(r, {})).toEqual({ leader: 200, primary: 200, standbyLeader: 503, replica: 503 });
  });

  it('answers every path family', () => {
    expect(codes(r, ALL_PATHS)).toEqual({
      '/': 200,
      '/primary': 200,
      '/master': 200,
      '/read-write': 200,
      '/leader': 200,
      '/standby-leader': 503,
      '/standby_leader': 503,
      '/replica': 503,
      '/read-only': 200,
      '/health': 200,
      '/sync': 503,
      '/synchronous': 503,
      '/async': 503,
      '/asynchronous': 503,
      '/read-only-sync': 200,
      '/read-only-synchronous': 200,
      '/nonsense': 503,
    });
  });

  it('matches by substring, first match wins', () => {
    expect(healthStatus('/foo/primary/bar', {}, r)).toBe(200);
    expect(healthStatus('/masterful', {}, r)).toBe(200);
    expect(healthStatus('/leaderboard', {}, r)).toBe(200);
    // `standby_leader` wins over `leader`
    expect(healthStatus('/standby_leader/primary', {}, r)).toBe(503);
    // `leader` wins over `replica`
    expect(healthStatus('/replica-leader', {}, r)).toBe(200);
    // `/sync` is an exact match only
    expect(healthStatus('/sync/', {}, r)).toBe(503);
    expect(healthStatus('/healthz', {}, r)).toBe(200);
  });

  it('ignores the lag filter (leader optime vs replayed 0 is irrelevant for rows 1-3)', () => {
    expect(codes(r, [...PRIMARY_PATHS, ...LEADER_PATHS], { lag: '0' })).toEqual({
      '/': 200,
      '/primary': 200,
      '/master': 200,
      '/read-write': 200,
      '/leader': 200,
    });
  });

  it('ignores tag filters on rows 1-3, applies them to /read-only and /health', () => {
    const q = { tag_dc: 'east' };
    expect(codes(r, [...PRIMARY_PATHS, ...LEADER_PATHS], q)).toEqual({
      '/': 200,
      '/primary': 200,
      '/master': 200,
      '/read-write': 200,
      '/leader': 200,
    });
    expect(healthStatus('/read-only', q, r)).toBe(503);
    expect(healthStatus('/read-only-sync', q, r)).toBe(503);
    expect(healthStatus('/health', q, r)).toBe(503);
    const tagged = leader({ tags: { dc: 'east' } });
    expect(healthStatus('/read-only', q, tagged)).toBe(200);
    expect(healthStatus('/health', q, tagged)).toBe(200);
  });

  it('a noloadbalance leader is still primary and read-only', () => {
    const nlb = leader({ tags: { noloadbalance: true } });
    expect(healthStatus('/primary', {}, nlb)).toBe(200);
    expect(healthStatus('/read-only', {}, nlb)).toBe(200);
    expect(healthStatus('/replica', {}, nlb)).toBe(503);
  });

  // Deliberate deviation from Patroni (documented in health-rules.ts): Patroni answers 200 on
  // /primary as soon as ha.is_leader(); pgwarden waits until PostgreSQL has left recovery.
  it('a lock holder still in recovery is leader but not primary (deliberate deviation)', () => {
    const promoting = leader({ pg: replicaPg(100 * MB), role: 'promoted' });
    expect(healthCodes(promoting, {})).toEqual({
      leader: 200,
      primary: 503,
      standbyLeader: 503,
      replica: 503,
    });
    expect(
      codes(promoting, ['/', '/primary', '/master', '/read-write', '/leader', '/replica', '/read-only']),
    ).toEqual({
      '/': 503,
      '/primary': 503,
      '/master': 503,
      '/read-write': 503,
      '/leader': 200,
      '/replica': 503,
      '/read-only': 503,
    });
  });

  it('a node that lost the lock but is still writable is not primary', () => {
    const old = leader({ isLeader: false });
    expect(healthCodes(old, {})).toEqual({ leader: 503, primary: 503, standbyLeader: 503, replica: 503 });
    expect(healthStatus('/read-only', {}, old)).toBe(503);
    expect(healthStatus('/health', {}, old)).toBe(200);
  });
});

describe('healthStatus on a streaming replica', () => {
  const r = replica();

  it('computes replica=200 and the rest 503', () => {
    expect(healthCodes(r, {})).toEqual({ leader: 503, primary: 503, standbyLeader: 503, replica: 200 });
  });

  it('answers every path family (no /sync)', () => {
    expect(codes(r, ALL_PATHS)).toEqual({
      '/': 503,
      '/primary': 503,
      '/master': 503,
      '/read-write': 503,
      '/leader': 503,
      '/standby-leader': 503,
      '/standby_leader': 503,
      '/replica': 200,
      '/read-only': 200,
      '/health': 200,
      '/sync': 503,
      '/synchronous': 503,
      '/async': 200,
      '/asynchronous': 200,
      '/read-only-sync': 503,
      '/read-only-synchronous': 503,
      '/nonsense': 503,
    });
  });

  it('a replica that is not running is not a replica for load balancers', () => {
    const starting = replica({ state: 'starting' });
    expect(codes(starting, ['/replica', '/read-only', '/health', '/async'])).toEqual({
      '/replica': 503,
      '/read-only': 503,
      '/health': 503,
      '/async': 503,
    });
  });

  it('without a cluster view the sync rows are not available (→ 503)', () => {
    const r2 = replica({ view: null });
    expect(codes(r2, ['/replica', '/read-only', '/health', '/sync', '/async', '/read-only-sync'])).toEqual({
      '/replica': 200,
      '/read-only': 200,
      '/health': 200,
      '/sync': 503,
      '/async': 503,
      '/read-only-sync': 503,
    });
  });

  it('a replica with no /status optime is never lagging', () => {
    const r2 = replica({ view: view({ status: null }), pg: replicaPg(1) });
    expect(healthStatus('/replica', { lag: '0' }, r2)).toBe(200);
  });
});

describe('healthStatus on a replica tagged noloadbalance', () => {
  const r = replica({ tags: { noloadbalance: true } });

  it('is excluded from replica/read-only/async but still healthy', () => {
    expect(codes(r, ['/replica', '/read-only', '/async', '/asynchronous', '/health', '/primary'])).toEqual({
      '/replica': 503,
      '/read-only': 503,
      '/async': 503,
      '/asynchronous': 503,
      '/health': 200,
      '/primary': 503,
    });
  });

  it('noloadbalance must be the boolean true (a string is just another tag)', () => {
    expect(healthStatus('/replica', {}, replica({ tags: { noloadbalance: 'true' } }))).toBe(200);
  });
});

describe('lag filter on a lagging replica', () => {
  // leader optime 100 MB; replayed 90 MB (received 99 MB): lag is 10 MB by replayed location.
  const r = replica({ pg: replicaPg(90 * MB, 99 * MB) });

  it('no lag parameter → 200', () => {
    expect(healthStatus('/replica', {}, r)).toBe(200);
  });

  it.each([
    ['10485760', 200],
    ['10485759', 503],
    ['1048576', 503],
    ['0', 503],
    ['10240kB', 200],
    ['10239kB', 503],
    ['10MB', 200],
    ['9MB', 503],
    ['1GB', 200],
    ['9.5MB', 503],
    ['10.5MB', 200],
  ])('?lag=%s → %d on /replica, /read-only and /async', (lag, code) => {
    expect(codes(r, ['/replica', '/read-only', '/async'], { lag })).toEqual({
      '/replica': code,
      '/read-only': code,
      '/async': code,
    });
  });

  it('uses the replayed location, not the received one', () => {
    // received 99 MB would be within 5 MB, replayed 90 MB is not
    expect(healthStatus('/replica', { lag: '5MB' }, r)).toBe(503);
  });

  it.each(['10mb', '1 KB', 'lots', '', 'MB'])('?lag=%j disables the filter → 200', (lag) => {
    expect(healthStatus('/replica', { lag }, r)).toBe(200);
  });

  it('/health ignores lag', () => {
    expect(healthStatus('/health', { lag: '0' }, r)).toBe(200);
  });
});

describe('tag filters (?tag_<key>=<value>)', () => {
  const r = replica({ tags: { dc: 'east', clonefrom: true, weight: 3 } });

  it('applied to replica-side endpoints: all must match', () => {
    expect(healthStatus('/replica', { tag_dc: 'east' }, r)).toBe(200);
    expect(healthStatus('/replica', { tag_dc: 'west' }, r)).toBe(503);
    expect(healthStatus('/replica', { tag_rack: 'r1' }, r)).toBe(503);
    expect(healthStatus('/replica', { tag_dc: 'east', tag_clonefrom: 'true' }, r)).toBe(200);
    expect(healthStatus('/replica', { tag_dc: 'east', tag_clonefrom: 'false' }, r)).toBe(503);
  });

  it('boolean tags compare as lower-case `true`, numbers as their text', () => {
    expect(healthStatus('/replica', { tag_clonefrom: 'true' }, r)).toBe(200);
    expect(healthStatus('/replica', { tag_clonefrom: 'True' }, r)).toBe(503);
    expect(healthStatus('/replica', { tag_weight: '3' }, r)).toBe(200);
    expect(healthStatus('/replica', { tag_weight: '03' }, r)).toBe(503);
  });

  it('string tag values compare case-sensitively', () => {
    expect(healthStatus('/replica', { tag_dc: 'EAST' }, r)).toBe(503);
  });

  it('apply to /read-only, /health, /async; unknown query parameters are ignored', () => {
    const q = { tag_dc: 'west' };
    expect(codes(r, ['/read-only', '/health', '/async', '/asynchronous'], q)).toEqual({
      '/read-only': 503,
      '/health': 503,
      '/async': 503,
      '/asynchronous': 503,
    });
    expect(healthStatus('/replica', { foo: 'bar', tagdc: 'west' }, r)).toBe(200);
  });

  it('do not turn a 503 into a 200 and are ignored on rows 1-3 of a replica', () => {
    expect(codes(r, ['/primary', '/leader', '/standby-leader'], { tag_dc: 'east' })).toEqual({
      '/primary': 503,
      '/leader': 503,
      '/standby-leader': 503,
    });
  });
});

describe('a stopped node', () => {
  const r = replica({ state: 'stopped', pg: null, role: 'replica' });

  it('answers 503 everywhere', () => {
    const all = codes(r, ALL_PATHS);
    expect(Object.values(all).every((c) => c === 503)).toBe(true);
    expect(Object.keys(all)).toHaveLength(ALL_PATHS.length);
  });

  it('a stopped pg reported as not running uses the node role', () => {
    const r2 = replica({ state: 'stopped', pg: pgStatus({ running: false }) });
    expect(healthCodes(r2, {})).toEqual({ leader: 503, primary: 503, standbyLeader: 503, replica: 503 });
  });

  it('a stopped lock holder is still the leader (lock) but not primary or healthy', () => {
    const r2 = leader({ state: 'stopped', pg: null, role: 'master' });
    expect(codes(r2, ['/leader', '/primary', '/health', '/read-only'])).toEqual({
      '/leader': 200,
      '/primary': 200,
      '/health': 503,
      '/read-only': 200,
    });
  });
});

describe('paused without a cluster view', () => {
  it('role decides leader/primary codes', () => {
    const p = leader({ view: null, paused: true, isLeader: false });
    expect(healthCodes(p, {})).toEqual({ leader: 200, primary: 200, standbyLeader: 503, replica: 503 });
    const rep = replica({ view: null, paused: true });
    expect(healthCodes(rep, {})).toEqual({ leader: 503, primary: 503, standbyLeader: 503, replica: 200 });
    const sl = replica({ view: null, paused: true, pg: null, state: 'running', role: 'standby_leader' });
    expect(healthCodes(sl, {})).toEqual({ leader: 200, primary: 503, standbyLeader: 200, replica: 503 });
  });
});

describe('standby_leader rows (1) ignore tag filters', () => {
  it('a paused standby leader without a view answers both spellings despite a non-matching tag filter', () => {
    const sl = replica({ view: null, paused: true, pg: null, state: 'running', role: 'standby_leader' });
    expect(codes(sl, STANDBY_LEADER_PATHS, { tag_dc: 'nowhere' })).toEqual({
      '/standby-leader': 200,
      '/standby_leader': 200,
    });
    expect(codes(sl, LEADER_PATHS, { tag_dc: 'nowhere' })).toEqual({ '/leader': 200 });
    expect(healthStatus('/health', { tag_dc: 'nowhere' }, sl)).toBe(503);
  });
});

describe('synchronous standby endpoints', () => {
  const sync = { index: '7', leader: 'n1', sync_standby: ['n2'] };
  const syncReplica = replica({ view: view({ sync }), synchronousMode: true });
  const asyncReplica = replica({ name: 'n3', view: view({ sync }), synchronousMode: true });
  const syncLeader = leader({ view: view({ sync }), synchronousMode: true });

  it('the sync standby answers /sync and /read-only-sync, not /async', () => {
    expect(
      codes(syncReplica, ['/sync', '/synchronous', '/async', '/asynchronous', '/read-only-sync']),
    ).toEqual({
      '/sync': 200,
      '/synchronous': 200,
      '/async': 503,
      '/asynchronous': 503,
      '/read-only-sync': 200,
    });
    expect(healthStatus('/read-only-synchronous', {}, syncReplica)).toBe(200);
  });

  it('an async replica answers /async only', () => {
    expect(
      codes(asyncReplica, ['/sync', '/synchronous', '/async', '/asynchronous', '/read-only-sync']),
    ).toEqual({
      '/sync': 503,
      '/synchronous': 503,
      '/async': 200,
      '/asynchronous': 200,
      '/read-only-sync': 503,
    });
  });

  it('the leader answers /read-only-sync but neither /sync nor /async', () => {
    expect(codes(syncLeader, ['/sync', '/async', '/read-only-sync', '/read-only-synchronous'])).toEqual({
      '/sync': 503,
      '/async': 503,
      '/read-only-sync': 200,
      '/read-only-synchronous': 200,
    });
  });

  it('the sync standby is subject to lag, noloadbalance and tag filters', () => {
    const lagging = replica({ view: view({ sync }), pg: replicaPg(50 * MB), synchronousMode: true });
    expect(healthStatus('/sync', { lag: '1MB' }, lagging)).toBe(503);
    expect(healthStatus('/sync', { lag: '60MB' }, lagging)).toBe(200);
    expect(healthStatus('/read-only-sync', { lag: '1MB' }, lagging)).toBe(503);
    const nlb = replica({ view: view({ sync }), tags: { noloadbalance: true }, synchronousMode: true });
    expect(healthStatus('/sync', {}, nlb)).toBe(503);
    expect(healthStatus('/sync', { tag_dc: 'x' }, syncReplica)).toBe(503);
    expect(healthStatus('/read-only-sync', { tag_dc: 'x' }, syncLeader)).toBe(503);
  });

  it('a stopped node listed in /sync is not a sync standby', () => {
    const stopped = replica({ view: view({ sync }), pg: null, state: 'stopped', synchronousMode: true });
    expect(codes(stopped, ['/sync', '/async', '/read-only-sync'])).toEqual({
      '/sync': 503,
      '/async': 503,
      '/read-only-sync': 503,
    });
  });

  it('with synchronous_mode off a replica listed in a stale /sync is asynchronous', () => {
    const stale = replica({ view: view({ sync }), synchronousMode: false });
    expect(codes(stale, ['/sync', '/synchronous', '/async', '/asynchronous', '/read-only-sync'])).toEqual({
      '/sync': 503,
      '/synchronous': 503,
      '/async': 200,
      '/asynchronous': 200,
      '/read-only-sync': 503,
    });
  });
});

describe('the leader of a standby cluster (Patroni: primary 503, replica 503, standby-leader 200)', () => {
  const standbyView = view({
    config: { index: '7', data: { standby_cluster: { host: '10.9.9.9', port: 6000 } } },
  });
  const standbyLeader = (over: Partial<NodeReport> = {}) =>
    report({ name: 'n1', role: 'standby_leader', isLeader: true, view: standbyView, ...over });

  it('answers as the standby leader while PostgreSQL is a standby', () => {
    expect(
      codes(standbyLeader(), [
        '/leader',
        '/primary',
        '/master',
        '/replica',
        '/standby-leader',
        '/standby_leader',
        '/read-only',
      ]),
    ).toEqual({
      '/leader': 200,
      '/primary': 503,
      '/master': 503,
      '/replica': 503,
      '/standby-leader': 200,
      '/standby_leader': 200,
      '/read-only': 200,
    });
  });

  it('the same lock outside a standby cluster is a primary being promoted: standby-leader 503', () => {
    expect(
      codes(standbyLeader({ view: view() }), ['/leader', '/primary', '/standby-leader', '/replica']),
    ).toEqual({
      '/leader': 200,
      '/primary': 503,
      '/standby-leader': 503,
      '/replica': 503,
    });
  });

  it('its replicas answer as replicas', () => {
    expect(codes(replica({ view: standbyView }), ['/replica', '/standby-leader', '/primary'])).toEqual({
      '/replica': 200,
      '/standby-leader': 503,
      '/primary': 503,
    });
  });
});
