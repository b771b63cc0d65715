import { describe, expect, it } from 'vitest';
import {
  fitToTakeOver,
  isRequestedCandidate,
  judgeHealthiest,
  type LocalFacts,
  type PeerStatus,
  someoneFitToTakeOver,
} from '../../src/cluster/eligibility.ts';
import { type ClusterView, emptyClusterView } from '../../src/cluster/view.ts';

const settings = { maximum_lag_on_failover: 1048576, check_timeline: false, synchronous_mode: false };
const me: LocalFacts = {
  name: 'a',
  running: true,
  inRecovery: true,
  walPosition: 5000,
  timeline: 1,
  nofailover: false,
  streaming: true,
};
const peer = (over: Partial<PeerStatus>): PeerStatus => ({
  name: 'b',
  reachable: true,
  inRecovery: true,
  walPosition: 4000,
  timeline: 1,
  nofailover: false,
  watchdogFailed: false,
  ...over,
});
const view = (over: Partial<ClusterView> = {}): ClusterView => ({ ...emptyClusterView, ...over });

describe('judgeHealthiest', () => {
  it('a replica ahead of every reachable peer is the healthiest', () => {
    const v = judgeHealthiest(
      view(),
      me,
      [peer({}), peer({ name: 'c', reachable: false, walPosition: 9e9 })],
      settings,
    );
    expect(v).toEqual({ healthiest: true, reason: 'no reachable member is ahead of me' });
  });

  it('a peer further ahead wins', () => {
    const v = judgeHealthiest(view(), me, [peer({ walPosition: 6000 })], settings);
    expect(v.healthiest).toBe(false);
    expect(v.reason).toBe('b is ahead (6000 > 5000)');
  });

  it('WAL positions compare only on one timeline: an older one never counts as ahead, a newer one always does', () => {
    // The ex-primary's last writes on timeline 1, past the fork, are not the cluster's.
    const older = peer({ timeline: 1, walPosition: 9000 });
    expect(judgeHealthiest(view(), { ...me, timeline: 2 }, [older], settings)).toEqual({
      healthiest: true,
      reason: 'no reachable member is ahead of me',
    });
    const newer = peer({ timeline: 2, walPosition: 10 });
    expect(judgeHealthiest(view(), me, [newer], settings)).toEqual({
      healthiest: false,
      reason: 'b is on a newer timeline (2 > 1)',
    });
  });

  it('with check_timeline, a member behind the timeline /history names never wins', () => {
    const history = view({ history: [[1, 4000, 'no recovery target specified']] });
    const strict = { ...settings, check_timeline: true };
    expect(judgeHealthiest(history, me, [], strict)).toEqual({
      healthiest: false,
      reason: "timeline 1 is older than the cluster's 2",
    });
    expect(judgeHealthiest(history, me, [], settings).healthiest).toBe(true);
  });

  it('with synchronous_mode, the last synchronous leader being ahead does not stop its standby', () => {
    const sync = { index: '1', leader: 'b', sync_standby: ['a'] };
    const v = judgeHealthiest(view({ sync }), me, [peer({ walPosition: 9000 })], {
      ...settings,
      synchronous_mode: true,
    });
    expect(v).toEqual({ healthiest: true, reason: 'no reachable member is ahead of me' });
    // Another synchronous standby ahead still wins.
    const two = { index: '1', leader: 'c', sync_standby: ['a', 'b'] };
    expect(
      judgeHealthiest(view({ sync: two }), me, [peer({ walPosition: 9000 })], {
        ...settings,
        synchronous_mode: true,
      }).healthiest,
    ).toBe(false);
  });

  it('a nofailover peer ahead does not stop us', () => {
    expect(
      judgeHealthiest(view(), me, [peer({ walPosition: 6000, nofailover: true })], settings).healthiest,
    ).toBe(true);
  });

  it('a live primary anywhere stops the race', () => {
    const v = judgeHealthiest(view(), me, [peer({ inRecovery: false })], settings);
    expect(v).toEqual({ healthiest: false, reason: 'primary b is still alive' });
  });

  it('nofailover and stopped nodes never race', () => {
    expect(judgeHealthiest(view(), { ...me, nofailover: true }, [], settings).reason).toBe(
      'tagged nofailover',
    );
    expect(judgeHealthiest(view(), { ...me, running: false }, [], settings).reason).toBe(
      'postgres is not running',
    );
  });

  it('lag beyond maximum_lag_on_failover against /status disqualifies', () => {
    const v = judgeHealthiest(view({ status: { optime: 5000 + 1048577 } }), me, [], settings);
    expect(v.healthiest).toBe(false);
    expect(v.reason).toMatch(/exceeds maximum_lag_on_failover 1048576/);
    expect(judgeHealthiest(view({ status: { optime: 5000 + 1048576 } }), me, [], settings).healthiest).toBe(
      true,
    );
  });

  it('a running primary is eligible unless it is on an older timeline than /history says', () => {
    const primary = { ...me, inRecovery: false };
    expect(judgeHealthiest(view(), primary, [peer({ walPosition: 9e9 })], settings).healthiest).toBe(true);
    const history: ClusterView['history'] = [[1, 100, 'no recovery target specified']];
    expect(judgeHealthiest(view({ history }), primary, [], settings).healthiest).toBe(false);
  });

  it('in synchronous mode only the sync leader or standbys may race', () => {
    const sync = { index: '1', leader: 'x', sync_standby: ['b'] };
    const s = { ...settings, synchronous_mode: true };
    expect(judgeHealthiest(view({ sync }), me, [], s).reason).toBe('not a synchronous standby');
    expect(judgeHealthiest(view({ sync: { ...sync, sync_standby: ['a'] } }), me, [], s).healthiest).toBe(
      true,
    );
  });

  // Seen in simulated runs (sync seeds 369 and 466, as the schedules were then): the members /sync allowed to take
  // over each saw a non-synchronous replica ahead and stood back, so nobody ever led.
  it('in synchronous mode a replica /sync does not name is no rival, however far ahead', () => {
    const sync = { index: '1', leader: 'a', sync_standby: ['b'] };
    const s = { ...settings, synchronous_mode: true };
    const aheadButAsync = peer({ name: 'c', walPosition: 9000 });
    expect(judgeHealthiest(view({ sync }), me, [aheadButAsync], s)).toEqual({
      healthiest: true,
      reason: 'no reachable member is ahead of me',
    });
    // A synchronous standby ahead still wins.
    expect(judgeHealthiest(view({ sync }), me, [peer({ walPosition: 9000 })], s).reason).toBe(
      'b is ahead (9000 > 5000)',
    );
  });

  // Seen in a simulated run (sync seed 325, as the schedules were then): a switchover without candidate from a leader whose
  // only healthy peers are not synchronous can go nowhere; the source must not stand back.
  it('a switchover source stands back only for a member that may take over', () => {
    const failover = { index: '3', leader: 'a' };
    const sync = { index: '1', leader: 'a', sync_standby: [] };
    const s = { ...settings, synchronous_mode: true };
    expect(judgeHealthiest(view({ failover, sync }), me, [peer({})], s).healthiest).toBe(true);
    expect(judgeHealthiest(view({ failover }), me, [peer({})], settings).reason).toBe(
      'I am the switchover source; another member takes over',
    );
  });

  // Found by the simulator (sync seed 6933): a thawed old primary still running on timeline 1
  // took the lock back as "running as primary" — the new leader's /history was never written
  // (its checkpoint failed), and the check of /sync came only after that shortcut.
  it('a running primary is stale when any member or peer shows a newer timeline, or /sync names another leader', () => {
    const primary = { ...me, inRecovery: false, timeline: 1 };
    const members = [{ name: 'b', data: { timeline: 2 } }] as unknown as ClusterView['members'];
    expect(judgeHealthiest(view({ members }), primary, [], settings).reason).toBe(
      "running as primary on timeline 1, older than the cluster's 2",
    );
    expect(judgeHealthiest(view(), primary, [peer({ timeline: 2 })], settings).reason).toBe(
      "running as primary on timeline 1, older than the cluster's 2",
    );
    const sync = { index: '1', leader: 'b', sync_standby: ['c'] };
    const s = { ...settings, synchronous_mode: true };
    expect(judgeHealthiest(view({ sync }), primary, [], s).reason).toBe(
      'running as primary, but /sync names b as the synchronous leader',
    );
    expect(judgeHealthiest(view({ sync: { ...sync, leader: 'a' } }), primary, [], s).healthiest).toBe(true);
  });

  // Found by the simulator (sync seed 9796): a scheduled switchover to a member /sync did not
  // name came due after its leader had gone, and that member took the lock without the commits.
  it('in synchronous mode a switchover goes only to a member /sync names; a failover anywhere', () => {
    const sync = { index: '1', leader: 'x', sync_standby: ['b'] };
    const s = { ...settings, synchronous_mode: true };
    const switchover = { index: '3', leader: 'x', member: 'a' };
    expect(judgeHealthiest(view({ sync, failover: switchover }), me, [], s)).toEqual({
      healthiest: false,
      reason: 'switchover candidate, but not a synchronous standby',
    });
    const failover = { index: '3', member: 'a' };
    expect(judgeHealthiest(view({ sync, failover }), me, [], s).reason).toBe('I am the switchover candidate');
  });

  it('in maintenance mode nobody races, except a named switchover candidate', () => {
    const paused = { ...settings, paused: true };
    expect(judgeHealthiest(view(), me, [], paused)).toEqual({
      healthiest: false,
      reason: 'the cluster is paused',
    });
    const failover = { index: '3', member: 'a' };
    expect(judgeHealthiest(view({ failover }), me, [], paused)).toEqual({
      healthiest: true,
      reason: 'I am the switchover candidate',
    });
    // A running primary keeps (or takes back) the lock even when paused.
    expect(judgeHealthiest(view(), { ...me, inRecovery: false }, [], paused).healthiest).toBe(true);
  });

  // Found by the simulator (seed 369): the old leader, demoted while cut from etcd, had not yet
  // rejoined the new timeline when a switchover named it; it took the lock as the candidate and
  // promoted its timeline 1 — a second timeline 2, the leader's writes since the fork gone.
  it("a switchover candidate behind the cluster's timeline that does not stream is no candidate, for anyone", () => {
    const members = (timelines: Record<string, number>) =>
      Object.entries(timelines).map(([name, timeline]) => ({
        name,
        key: `/service/x/members/${name}`,
        index: '1',
        session: null,
        data: { timeline, state: 'running', role: 'replica' },
      })) as unknown as ClusterView['members'];
    const switchover = { index: '5', leader: 'x', member: 'a' };
    const v = view({ failover: switchover, members: members({ a: 1, c: 2 }) });
    const stale = { ...me, timeline: 1, streaming: false };
    const checking = { ...settings, check_timeline: true };
    // Itself: not the candidate, and it says why.
    expect(isRequestedCandidate(v, stale, checking)).toBe(false);
    expect(judgeHealthiest(v, stale, [peer({ name: 'c', timeline: 2 })], checking)).toEqual({
      healthiest: false,
      reason: "switchover candidate, but on timeline 1, behind the cluster's 2",
    });
    // Streaming towards the new timeline (the switch not replayed yet): it is.
    expect(isRequestedCandidate(v, { ...stale, streaming: true }, checking)).toBe(true);
    // The others do not wait for it: c races as if no candidate were named.
    const c = { ...me, name: 'c', timeline: 2, walPosition: 3000 };
    const a = peer({ name: 'a', timeline: 1, walPosition: 9000 });
    expect(judgeHealthiest(v, c, [a], checking).healthiest).toBe(true);
    expect(judgeHealthiest(v, c, [{ ...a, streaming: true }], checking).reason).toBe(
      'switchover candidate a takes over',
    );
    // The leader's check before it demotes (Patroni's is_failover_possible).
    expect(fitToTakeOver(a, 2)).toBe(false);
    expect(fitToTakeOver({ ...a, streaming: true }, 2)).toBe(true);
    expect(fitToTakeOver({ ...a, timeline: 2 }, 2)).toBe(true);
    expect(someoneFitToTakeOver([a], view(), 2, true)).toBe(false);
    expect(someoneFitToTakeOver([a], view(), 1, true)).toBe(true);
    expect(someoneFitToTakeOver([a], view({ members: members({ c: 2 }) }), 1, true)).toBe(false);
    // check_timeline off (Patroni's default): Patroni's rule, the operator takes the risk.
    expect(isRequestedCandidate(v, stale, settings)).toBe(true);
    expect(someoneFitToTakeOver([a], view(), 2, false)).toBe(true);
    expect(judgeHealthiest(v, c, [a], settings).reason).toBe('switchover candidate a takes over');
  });
});
