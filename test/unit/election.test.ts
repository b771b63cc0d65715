import { afterEach, describe, expect, it } from 'vitest';
import { type AnyEventObject, createActor, createMachine, fromPromise, sendTo } from 'xstate';
import type { LocalFacts, PeerStatus } from '../../src/cluster/eligibility.ts';
import { FENCE_BUDGET_MS, giveUpAfterMs } from '../../src/cluster/short-lease.ts';
import { type ClusterView, emptyClusterView, type Member } from '../../src/cluster/view.ts';
import {
  type ElectionSettings,
  electionMachine,
  leaseMarginMs,
  type RefreshResult,
  refreshIntervalMs,
} from '../../src/machines/election/index.ts';
import { member } from '../helpers/members.ts';
import { advance, SimulatedClock, settle } from '../helpers/sim.ts';

const settings: ElectionSettings = {
  ttl: 30,
  loop_wait: 10,
  retry_timeout: 10,
  maximum_lag_on_failover: 1048576,
  check_timeline: false,
  synchronous_mode: false,
};
const facts: LocalFacts = {
  name: 'a',
  running: true,
  inRecovery: true,
  walPosition: 100,
  timeline: 1,
  nofailover: false,
  streaming: true,
};
const leaderView = (name: string): ClusterView => ({
  ...emptyClusterView,
  leader: { name, index: '5', session: '1' },
});

interface Fakes {
  /** Our lease kept alive before the transaction. */
  fresh: () => Promise<void>;
  acquire: () => Promise<boolean>;
  /** How old the lease is when the acquisition succeeds. */
  leaseAgeMs: number;
  /** The refresh's answer; its lease's ttl defaults to the settings'. */
  update: () => Promise<Omit<RefreshResult, 'leaseTtlSeconds'> & Partial<RefreshResult>>;
  release: () => Promise<boolean>;
  peers: () => Promise<PeerStatus[]>;
  /** The stale leader key's removal (fast failover); default: removed at once. */
  remove: () => Promise<boolean>;
  /** The /failsafe write; default: written at once. */
  writeFailsafe: () => Promise<void>;
}

const running: Array<{ stop(): void }> = [];
afterEach(() => {
  for (const a of running.splice(0)) a.stop();
});

/** The election as a child of a parent that records what it is told, like the node machine. */
function harness(
  fakes: Partial<Fakes>,
  holdsLock = false,
  opts: { settings?: Partial<ElectionSettings>; view?: ClusterView } = {},
) {
  const calls = {
    /** Every refresh's input, as asked. */
    updates: [] as Array<Record<string, unknown>>,
    /** Every stale leader key removal asked for (fast failover). */
    removals: [] as Array<Record<string, unknown>>,
    freshLease: 0,
    acquire: 0,
    clearFailover: 0,
    update: 0,
    recreate: [] as boolean[],
    release: 0,
    peers: 0,
    /** The members each race asked, by name. */
    probed: [] as string[][],
    keepalives: 0,
  };
  const received: AnyEventObject[] = [];
  const election = electionMachine.provide({
    actors: {
      freshLease: fromPromise(async () => {
        calls.freshLease++;
        await (fakes.fresh ?? (async () => {}))();
      }),
      clearFailoverKey: fromPromise(async () => {
        calls.clearFailover++;
        return { leaseAgeMs: (fakes.leaseAgeMs ?? 5) + 1000, leaseTtlSeconds: settings.ttl };
      }),
      acquireLeader: fromPromise(async () => {
        calls.acquire++;
        return {
          won: await (fakes.acquire ?? (async () => true))(),
          leaseAgeMs: fakes.leaseAgeMs ?? 5,
          leaseTtlSeconds: settings.ttl,
        };
      }),
      updateLeader: fromPromise(
        async ({ input }: { input: { name: string; recreate: boolean; ttl: number } }) => {
          calls.updates.push({ ...input });
          calls.update++;
          calls.recreate.push(input.recreate);
          const r = await (fakes.update ?? (async () => ({ ok: true, elapsedMs: 5 })))();
          // A real refresh puts the key on a lease of the ttl asked for.
          return { leaseTtlSeconds: input.ttl, ...r };
        },
      ),
      removeStaleLeader: fromPromise(
        async ({ input }: { input: { name: string; index: string; session: string | null } }) => {
          calls.removals.push({ ...input });
          return (fakes.remove ?? (async () => true))();
        },
      ),
      deleteLeader: fromPromise(async () => {
        calls.release++;
        return (fakes.release ?? (async () => true))();
      }),
      sampleOwnPosition: fromPromise(async () => {}),
      probePeers: fromPromise(async ({ input }: { input: { members: readonly Member[]; name: string } }) => {
        calls.peers++;
        calls.probed.push(input.members.map((m) => m.name));
        return (fakes.peers ?? (async () => []))();
      }),
      keepWatchdogAlive: fromPromise(async () => {
        calls.keepalives++;
      }),
      writeFailsafe: fromPromise(async () => (fakes.writeFailsafe ?? (async () => {}))()),
    },
  });
  const parent = createMachine({
    types: {} as { events: AnyEventObject },
    invoke: {
      id: 'election',
      src: election,
      input: { name: 'a', settings: { ...settings, ...opts.settings }, holdsLock, view: opts.view },
    },
    on: {
      '*': {
        actions: [
          ({ event }) => {
            if (/^(LEADERSHIP|ELECTION)_/.test(String(event.type))) received.push(event);
          },
          sendTo('election', ({ event }) => event),
        ],
      },
    },
  });
  const clock = new SimulatedClock();
  const actor = createActor(parent, { clock });
  running.push(actor);
  actor.start();
  const child = () => actor.getSnapshot().children['election']!;
  return { actor, clock, calls, received, child, send: (e: AnyEventObject) => actor.send(e) };
}

describe('election machine', () => {
  it('races and acquires when nobody holds the lock and this node is healthiest', async () => {
    const h = harness({});
    h.send({ type: 'FACTS', facts });
    h.send({ type: 'CLUSTER', view: emptyClusterView });
    await settle();
    expect(h.calls.acquire).toBe(1);
    expect(h.received.map((e) => e.type)).toEqual(['ELECTION_VERDICT', 'LEADERSHIP_ACQUIRED']);
    expect(h.child().getSnapshot().value).toEqual({ leader: { holding: 'idle' } });
  });

  it('the named switchover candidate takes the free lock without asking its peers', async () => {
    const h = harness({});
    h.send({
      type: 'CLUSTER',
      view: { ...emptyClusterView, failover: { index: '4', leader: 'b', member: 'a' } },
    });
    h.send({ type: 'FACTS', facts });
    await settle();
    expect(h.calls.peers).toBe(0);
    expect(h.calls.acquire).toBe(1);
    expect(h.received.map((e) => e.type)).toContain('LEADERSHIP_ACQUIRED');
  });

  // Found by the simulator (sync seed 109): back from an etcd cut, a replica raced on the view it
  // had before the cut — a free lock and a /sync naming it, both long gone.
  it('does not race on a view etcd has failed since; a fresh view is judged as ever', async () => {
    const h = harness({});
    // A free lock in sight while PostgreSQL is down: no race yet.
    h.send({ type: 'FACTS', facts: { ...facts, running: false } });
    h.send({ type: 'CLUSTER', view: emptyClusterView });
    await settle();
    // etcd stops answering; PostgreSQL comes up: the lock is free only by the old view's lights.
    h.send({ type: 'DCS_UNAVAILABLE' });
    h.send({ type: 'FACTS', facts });
    await advance(h.clock, 25_000, 1000);
    expect(h.calls.peers).toBe(0);
    expect(h.calls.acquire).toBe(0);
    // etcd answers again: the fresh view shows a free lock, and the race runs.
    h.send({ type: 'CLUSTER', view: emptyClusterView });
    await settle();
    expect(h.calls.acquire).toBe(1);
  });

  it('does not race while a leader exists, and never with nofailover', async () => {
    const h = harness({});
    h.send({ type: 'CLUSTER', view: leaderView('b') });
    h.send({ type: 'FACTS', facts });
    await advance(h.clock, 25_000, 1000);
    expect(h.calls.peers).toBe(0);
    h.send({ type: 'FACTS', facts: { ...facts, nofailover: true } });
    h.send({ type: 'CLUSTER', view: emptyClusterView });
    await advance(h.clock, 25_000, 1000);
    expect(h.calls.acquire).toBe(0);
  });

  it('stands back when a peer is ahead, and says why', async () => {
    const ahead: PeerStatus = {
      name: 'b',
      reachable: true,
      inRecovery: true,
      walPosition: 200,
      timeline: 1,
      nofailover: false,
      watchdogFailed: false,
    };
    const h = harness({ peers: async () => [ahead] });
    h.send({ type: 'FACTS', facts });
    h.send({ type: 'CLUSTER', view: emptyClusterView });
    await settle();
    expect(h.calls.acquire).toBe(0);
    expect(h.received[0]).toEqual({
      type: 'ELECTION_VERDICT',
      verdict: { healthiest: false, reason: 'b is ahead (200 > 100)' },
    });
  });

  it('a lost race leaves it following', async () => {
    const h = harness({ acquire: async () => false });
    h.send({ type: 'FACTS', facts });
    h.send({ type: 'CLUSTER', view: emptyClusterView });
    await settle();
    expect(h.received.map((e) => e.type)).toEqual(['ELECTION_VERDICT']);
    h.send({ type: 'CLUSTER', view: leaderView('b') });
    await settle();
    expect(h.child().getSnapshot().value).toBe('follower');
  });

  it('keeps the lock for as long as refreshes succeed', async () => {
    const h = harness({}, true);
    await advance(h.clock, 300_000, 1000);
    expect(h.calls.update).toBe(Math.floor(300_000 / refreshIntervalMs(settings)));
    expect(h.received).toEqual([]);
  });

  it('steps down on its own deadline when refreshes keep failing, not earlier', async () => {
    const h = harness({ update: async () => Promise.reject(new Error('etcd unreachable')) }, true);
    const deadline = settings.ttl * 1000 - leaseMarginMs(settings);
    await advance(h.clock, deadline - 100, 100);
    expect(h.received).toEqual([]);
    await advance(h.clock, 200, 100);
    expect(h.received).toEqual([
      { type: 'LEADERSHIP_LOST', reason: 'the lock could not be refreshed before its deadline' },
    ]);
  });

  it('the deadline counts from the start of the last good refresh', async () => {
    let fail = false;
    const h = harness(
      {
        update: async () => (fail ? Promise.reject(new Error('down')) : { ok: true, elapsedMs: 3000 }),
      },
      true,
    );
    await advance(h.clock, refreshIntervalMs(settings), 100); // first refresh (took 3 s by its own account)
    fail = true;
    const deadline = settings.ttl * 1000 - leaseMarginMs(settings) - 3000;
    await advance(h.clock, deadline - 200, 100);
    expect(h.received).toEqual([]);
    await advance(h.clock, 400, 100);
    expect(h.received.map((e) => e.type)).toEqual(['LEADERSHIP_LOST']);
  });

  // A PATCH of ttl once demoted the leader (a lease granted behind the election's back expired
  // before the next refresh). Now the holder refreshes at once, asking for the new ttl, and
  // trusts whatever lease the key ended up on by that lease's own ttl.
  it('a new ttl: the holder refreshes at once for it, and trusts the lease by its own ttl', async () => {
    let refreshes = 0;
    const h = harness(
      {
        update: async () => {
          refreshes++;
          // The first refresh after the PATCH could not get a new lease: the key stays on the 30 s one.
          if (refreshes === 1) return { ok: true, elapsedMs: 0, leaseTtlSeconds: 30 };
          return Promise.reject(new Error('etcd unreachable'));
        },
      },
      true,
    );
    h.send({ type: 'SETTINGS', settings: { ...settings, ttl: 60 } });
    await settle();
    expect(refreshes).toBe(1);
    // Trusted for the 30 s lease it is on, not for the 60 s the settings say.
    const deadline = 30_000 - leaseMarginMs(settings);
    await advance(h.clock, deadline - 200, 100);
    expect(h.received.map((e) => e.type)).not.toContain('LEADERSHIP_LOST');
    await advance(h.clock, 400, 100);
    expect(h.received.map((e) => e.type)).toContain('LEADERSHIP_LOST');
  });

  // Found by the simulator (seed 99 once DCS cuts joined the schedules): a node that took the
  // key on a lease last kept alive 10 s earlier believed it led until acquisition + ttl, while
  // etcd had expired the key, and another node had been promoted, 10 s before that.
  it('refreshes its lease before the transaction; a lease that cannot be refreshed is no race', async () => {
    const h = harness({ fresh: async () => Promise.reject(new Error('etcd unreachable')) });
    h.send({ type: 'FACTS', facts });
    h.send({ type: 'CLUSTER', view: emptyClusterView });
    await settle();
    expect(h.calls.freshLease).toBe(1);
    expect(h.calls.acquire).toBe(0);
    expect(h.child().getSnapshot().value).toBe('waiting');
  });

  it('the winner consumes an unscheduled switchover request; its deadline counts the time that took', async () => {
    const h = harness({
      leaseAgeMs: 10_000,
      update: async () => Promise.reject(new Error('etcd unreachable')),
    });
    h.send({
      type: 'CLUSTER',
      view: { ...emptyClusterView, failover: { index: '4', leader: 'b', member: 'a' } },
    });
    h.send({ type: 'FACTS', facts });
    await settle();
    expect([h.calls.freshLease, h.calls.acquire, h.calls.clearFailover]).toEqual([1, 1, 1]);
    expect(h.received.map((e) => e.type)).toEqual(['LEADERSHIP_ACQUIRED']);
    // The clearing answered the lease 1 s older than the transaction did: that second is gone.
    const deadline = settings.ttl * 1000 - leaseMarginMs(settings) - 11_000;
    await advance(h.clock, deadline - 100, 100);
    expect(h.received.map((e) => e.type)).not.toContain('LEADERSHIP_LOST');
    await advance(h.clock, 200, 100);
    expect(h.received.map((e) => e.type)).toContain('LEADERSHIP_LOST');
  });

  it('a scheduled switchover is left for its time by whoever wins; so is /failover when the race is lost', async () => {
    const scheduled = { index: '4', leader: 'b', member: 'a', scheduled_at: '2026-12-05T10:00:00+00:00' };
    const h = harness({});
    h.send({ type: 'FACTS', facts });
    h.send({ type: 'CLUSTER', view: { ...emptyClusterView, failover: scheduled } });
    await settle();
    expect(h.calls.acquire).toBe(1);
    expect(h.calls.clearFailover).toBe(0);
    const lost = harness({ acquire: async () => false });
    lost.send({ type: 'FACTS', facts });
    lost.send({
      type: 'CLUSTER',
      view: { ...emptyClusterView, failover: { index: '4', leader: 'b', member: 'a' } },
    });
    await settle();
    expect(lost.calls.acquire).toBe(1);
    expect(lost.calls.clearFailover).toBe(0);
  });

  it('a fresh lock is trusted until ttl after the lease was last refreshed, not after the acquisition', async () => {
    const h = harness({
      leaseAgeMs: 10_000,
      update: async () => Promise.reject(new Error('etcd unreachable')),
    });
    h.send({ type: 'FACTS', facts });
    h.send({ type: 'CLUSTER', view: emptyClusterView });
    await settle();
    expect(h.received.map((e) => e.type)).toEqual(['ELECTION_VERDICT', 'LEADERSHIP_ACQUIRED']);
    const deadline = settings.ttl * 1000 - leaseMarginMs(settings) - 10_000;
    await advance(h.clock, deadline - 100, 100);
    expect(h.received.map((e) => e.type)).not.toContain('LEADERSHIP_LOST');
    await advance(h.clock, 200, 100);
    // (The view still shows no leader, so it races again afterwards.)
    expect(h.received[2]).toEqual({
      type: 'LEADERSHIP_LOST',
      reason: 'the lock could not be refreshed before its deadline',
    });
  });

  it('a leader whose key vanishes refreshes at once: it keeps the lock when the refresh puts the key back', async () => {
    const h = harness({}, true);
    h.send({ type: 'FACTS', facts });
    h.send({ type: 'CLUSTER', view: leaderView('a') });
    await settle();
    h.send({ type: 'CLUSTER', view: emptyClusterView });
    await settle();
    expect(h.calls.update).toBe(1);
    expect(h.calls.recreate).toEqual([true]);
    expect(h.received).toEqual([]);
    expect(h.child().getSnapshot().value).toEqual({ leader: { holding: 'idle' } });
  });

  it('a leader whose key vanished with its lease loses the lock when that refresh fails', async () => {
    const h = harness({ update: async () => ({ ok: false, elapsedMs: 5 }) }, true);
    h.send({ type: 'FACTS', facts });
    h.send({ type: 'CLUSTER', view: emptyClusterView });
    await settle();
    expect(h.received[0]).toEqual({
      type: 'LEADERSHIP_LOST',
      reason: 'the lock could not be refreshed before its deadline',
    });
  });

  it('refreshing late still leaves a whole retry_timeout of DCS outage survivable', async () => {
    let down = false;
    const h = harness(
      { update: async () => (down ? Promise.reject(new Error('etcd down')) : { ok: true, elapsedMs: 1 }) },
      true,
    );
    await advance(h.clock, refreshIntervalMs(settings) - 100, 100);
    down = true; // the outage starts just before the refresh is due ...
    await advance(h.clock, settings.retry_timeout * 1000, 100);
    down = false; // ... and lasts retry_timeout
    await advance(h.clock, 2000, 100);
    expect(h.received).toEqual([]);
    expect(h.child().getSnapshot().value).toEqual({ leader: { holding: 'idle' } });
  });

  it('a refresh that finds the lease gone loses at once', async () => {
    const h = harness({ update: async () => ({ ok: false, elapsedMs: 1 }) }, true);
    await advance(h.clock, refreshIntervalMs(settings) + 100, 100);
    expect(h.received.map((e) => e.type)).toEqual(['LEADERSHIP_LOST']);
  });

  it('seeing another name on the leader key loses at once', async () => {
    const h = harness({}, true);
    h.send({ type: 'CLUSTER', view: leaderView('b') });
    await settle();
    expect(h.received).toEqual([{ type: 'LEADERSHIP_LOST', reason: 'the lock is held by b' }]);
  });

  it('RELEASE deletes the key; FREEZE stops racing for good', async () => {
    const h = harness({}, true);
    h.send({ type: 'FREEZE' });
    h.send({ type: 'RELEASE', lastLsn: 42 });
    await settle();
    expect(h.calls.release).toBe(1);
    expect(h.received.map((e) => e.type)).toEqual(['LEADERSHIP_RELEASED']);
    expect(h.child().getSnapshot().value).toBe('resigned');
    h.send({ type: 'FACTS', facts });
    h.send({ type: 'CLUSTER', view: emptyClusterView });
    await settle();
    expect(h.calls.acquire).toBe(0);
  });

  it('after giving the lock up it neither reclaims nor races until someone else holds it', async () => {
    const h = harness({}, true);
    h.send({ type: 'FACTS', facts });
    h.send({ type: 'RELEASE', lastLsn: 7 });
    await settle();
    // The watch still shows our own name for a moment, then no leader at all.
    h.send({ type: 'CLUSTER', view: leaderView('a') });
    h.send({ type: 'CLUSTER', view: emptyClusterView });
    await advance(h.clock, 5_000, 500);
    expect(h.calls.update).toBe(0);
    expect(h.calls.acquire).toBe(0);
    h.send({ type: 'CLUSTER', view: leaderView('b') });
    await settle();
    expect(h.child().getSnapshot().value).toBe('follower');
  });

  it('tells the node, as it takes the lock, every other server it knows of, to be fenced first', async () => {
    const h = harness({});
    h.send({ type: 'FACTS', facts });
    // b leads; then its leader and member keys expire together (one lease): the view forgets both.
    h.send({
      type: 'CLUSTER',
      view: { ...leaderView('b'), members: [member('a'), member('b'), member('c')] },
    });
    await settle();
    h.send({ type: 'CLUSTER', view: { ...emptyClusterView, members: [member('a'), member('c')] } });
    await settle();
    expect(h.calls.acquire).toBe(1);
    expect(h.received.at(-1)).toEqual({
      type: 'LEADERSHIP_ACQUIRED',
      fenceTargets: [
        { name: 'b', host: 'b', port: 5432 },
        { name: 'c', host: 'c', port: 5432 },
      ],
    });
  });

  it('RELEASE while it waits after an etcd error (the race could not take the lock): released at once', async () => {
    const h = harness({
      acquire: async () => {
        throw new Error('etcd did not answer');
      },
    });
    h.send({ type: 'FACTS', facts });
    h.send({ type: 'CLUSTER', view: emptyClusterView });
    await settle();
    expect(h.calls.acquire).toBe(1);
    expect(h.child().getSnapshot().value).toBe('waiting');
    h.send({ type: 'RELEASE', lastLsn: null });
    await settle();
    // released, and from there standing back until someone else holds the lock.
    expect(h.child().getSnapshot().value).toBe('standingBack');
    expect(h.received.at(-1)).toEqual({ type: 'LEADERSHIP_RELEASED' });
  });

  it('a ttl after giving the lock up, a key still carrying its name is reclaimed, not raced for', async () => {
    const h = harness({}, true);
    h.send({ type: 'FACTS', facts });
    h.send({ type: 'RELEASE', lastLsn: 7 });
    await settle();
    // The delete never reached etcd: the key stays, on our own lease.
    h.send({ type: 'CLUSTER', view: leaderView('a') });
    await advance(h.clock, settings.ttl * 1000 + 1000, 500);
    expect(h.calls.acquire).toBe(0);
    expect(h.calls.recreate).toEqual([false]);
    expect(h.received.at(-1)).toEqual({ type: 'LEADERSHIP_ACQUIRED', fenceTargets: [] });
  });

  it('reclaims a key that still carries its name after an agent restart', async () => {
    const h = harness({});
    h.send({ type: 'FACTS', facts });
    h.send({ type: 'CLUSTER', view: leaderView('a') });
    await settle();
    expect(h.calls.update).toBe(1);
    expect(h.calls.recreate).toEqual([false]);
    expect(h.received.map((e) => e.type)).toEqual(['LEADERSHIP_ACQUIRED']);
  });

  // Found by the simulator (sync mode, seed 58): a thawed ex-leader, whose stale view still
  // showed its own name, kept reclaiming; the view showing the new leader arrived while a
  // reclaim was in flight and was dropped, so it reclaimed every few seconds until the new
  // leader's key expired — and then *created* the key, skipping the race and /sync's say.
  it('a reclaim attempt keeps the view current, so a failed one does not repeat on a stale view', async () => {
    let answer: (r: Omit<RefreshResult, 'leaseTtlSeconds'>) => void = () => {};
    const h = harness({ update: () => new Promise((r) => (answer = r)) });
    h.send({ type: 'FACTS', facts });
    h.send({ type: 'CLUSTER', view: leaderView('a') });
    await settle();
    expect(h.child().getSnapshot().value).toBe('reclaiming');
    h.send({ type: 'CLUSTER', view: leaderView('b') });
    answer({ ok: false, elapsedMs: 5 });
    await advance(h.clock, 30_000, 500);
    expect(h.calls.update).toBe(1);
    expect(h.child().getSnapshot().value).toBe('follower');
  });

  // A live leader behind a firewall REJECT rule, or cut from etcd, answers exactly like a dead
  // one: refused ports, a broken stream. Revoking its lease on that evidence once made two
  // writable primaries (found by the simulator's reject fault). Nobody races before its key is gone.
  it('a leader whose stream broke is waited out until etcd expires its key, however dead it looks', async () => {
    const h = harness({});
    h.send({ type: 'CLUSTER', view: leaderView('b') });
    h.send({ type: 'FACTS', facts });
    h.send({ type: 'FACTS', facts: { ...facts, streaming: false } });
    await advance(h.clock, 60_000, 1000);
    expect(h.calls.acquire).toBe(0);
    expect(h.child().getSnapshot().value).toBe('follower');
    h.send({ type: 'CLUSTER', view: emptyClusterView });
    await settle();
    expect(h.calls.acquire).toBeGreaterThan(0);
  });
});

describe('election machine: an armed watchdog bounds the lock', () => {
  const windowMs = 15_000;

  it('keeps the watchdog alive after each refresh, and refreshes at once when it is armed', async () => {
    const h = harness({}, true);
    await advance(h.clock, 100, 50);
    const before = h.calls.keepalives;
    const refreshes = h.calls.update;
    h.send({ type: 'WATCHDOG', windowMs, reopened: true });
    await advance(h.clock, 100, 50);
    expect(h.calls.update).toBe(refreshes + 1);
    expect(h.calls.keepalives).toBeGreaterThan(before);
    // From then on, refreshed within the window, at most every refreshIntervalMs with it.
    const interval = refreshIntervalMs(settings, windowMs);
    expect(interval).toBeLessThan(windowMs);
    expect(interval).toBeLessThan(refreshIntervalMs(settings));
    const k = h.calls.keepalives;
    await advance(h.clock, 3 * interval + 100, 100);
    expect(h.calls.keepalives).toBe(k + 3);
    expect(h.received).toEqual([]);
  });

  /** A leader whose watchdog was just armed, and the switch that takes etcd away from it. */
  async function armedLeader() {
    let down = false;
    const h = harness(
      {
        update: async () =>
          down ? Promise.reject(new Error('etcd unreachable')) : { ok: true, elapsedMs: 5 },
      },
      true,
    );
    h.send({ type: 'WATCHDOG', windowMs, reopened: true });
    await advance(h.clock, 100, 50);
    return {
      h,
      etcdGone: () => {
        down = true;
      },
    };
  }

  it('etcd gone: the lock is given up when the window since the last keepalive ends, before the lease deadline', async () => {
    const { h, etcdGone } = await armedLeader();
    etcdGone();
    await advance(h.clock, windowMs - 300, 100);
    expect(h.received).toEqual([]);
    await advance(h.clock, 400, 100);
    expect(h.received.map((e) => e.type)).toEqual(['LEADERSHIP_LOST']);
    expect(windowMs).toBeLessThan(settings.ttl * 1000 - leaseMarginMs(settings));
  });

  it('the same armed watchdog told again does not restart its window; disarmed, the lease alone counts', async () => {
    const { h, etcdGone } = await armedLeader();
    etcdGone();
    // Told every loop while armed: the window still counts from the last keepalive.
    await advance(h.clock, 10_000, 100);
    h.send({ type: 'WATCHDOG', windowMs, reopened: false });
    await advance(h.clock, windowMs - 10_000 + 200, 100);
    expect(h.received.map((e) => e.type)).toEqual(['LEADERSHIP_LOST']);

    const disarmed = await armedLeader();
    disarmed.etcdGone();
    disarmed.h.send({ type: 'WATCHDOG', windowMs: null, reopened: false });
    await advance(disarmed.h.clock, windowMs + 1000, 100);
    expect(disarmed.h.received).toEqual([]);
  });
});

describe("election machine: fast failover's short lease", () => {
  const G = 3000;
  const fast = { settings: { short_lease_ms: G } };
  const lost = (h: ReturnType<typeof harness>) => h.received.filter((e) => e.type === 'LEADERSHIP_LOST');

  it('a leader no one renews stops writing the fencing budget before its short lease ends', async () => {
    const h = harness({ update: () => Promise.reject(new Error('etcd unreachable')) }, true, fast);
    await advance(h.clock, G - FENCE_BUDGET_MS - 100, 50);
    expect(lost(h)).toEqual([]);
    await advance(h.clock, 200, 50);
    expect(lost(h)).toHaveLength(1);
    // Long before the lease's own deadline.
    expect(G).toBeLessThan(settings.ttl * 1000 - leaseMarginMs(settings));
  });

  it('renewed by gossip it keeps writing; a renewal sent before the newest does not shorten it', async () => {
    const h = harness({ update: () => Promise.reject(new Error('etcd unreachable')) }, true, fast);
    for (let i = 0; i < 10; i++) {
      h.send({ type: 'SHORT_LEASE_RENEWED', ageMs: 10, sentAt: h.clock.now() - 10 });
      await advance(h.clock, 700, 50);
    }
    expect(lost(h)).toEqual([]);
    const newest = h.clock.now() - 10;
    h.send({ type: 'SHORT_LEASE_RENEWED', ageMs: 10, sentAt: newest });
    // A refresh slowed by etcd, sent long ago, arriving now.
    h.send({ type: 'SHORT_LEASE_RENEWED', ageMs: 2400, sentAt: newest - 2390 });
    await advance(h.clock, G - FENCE_BUDGET_MS - 100, 50);
    expect(lost(h)).toEqual([]);
    await advance(h.clock, 200, 50);
    expect(lost(h)).toHaveLength(1);
  });

  it('halfway without gossip it renews by writing its key, putting back a key that vanished (as Patroni does)', async () => {
    const h = harness({}, true, fast);
    await advance(h.clock, G / 2 + 100, 50);
    expect(h.calls.updates.at(-1)).toMatchObject({ write: true, recreate: true, rotate: false });
    // Each write renews it: the leader keeps the lock on etcd alone.
    await advance(h.clock, 10 * G, 100);
    expect(lost(h)).toEqual([]);
    expect(h.calls.updates.length).toBeGreaterThan(10);
  });

  it('renewed by gossip it writes no more often than its refresh interval', async () => {
    const h = harness({}, true, fast);
    const before = h.calls.update;
    for (let i = 0; i < 20; i++) {
      h.send({ type: 'SHORT_LEASE_RENEWED', ageMs: 5, sentAt: h.clock.now() - 5 });
      await advance(h.clock, 700, 50);
    }
    expect(h.calls.update - before).toBeLessThanOrEqual(1);
  });

  it("a new term: the next refresh moves the key onto a new lease, the one after doesn't", async () => {
    const h = harness({}, true, fast);
    h.send({ type: 'SHORT_LEASE_RENEWED', ageMs: 5, sentAt: h.clock.now() - 5 });
    h.send({ type: 'SHORT_LEASE_NEW_TERM' });
    await advance(h.clock, 100, 50);
    expect(h.calls.updates.at(-1)).toMatchObject({ rotate: true, write: true });
    await advance(h.clock, G, 50);
    expect(h.calls.updates.at(-1)).toMatchObject({ rotate: false });
    expect(lost(h)).toEqual([]);
  });

  it('a /failsafe write that hangs does not keep the short lease from being renewed by a write of the key', async () => {
    const h = harness({ writeFailsafe: () => new Promise(() => {}) }, true, {
      settings: { short_lease_ms: G, failsafe_mode: true },
      view: { ...emptyClusterView, members: [member('a'), member('b')] },
    });
    await advance(h.clock, 5 * G, 50);
    expect(lost(h)).toEqual([]);
    expect(h.calls.updates.length).toBeGreaterThan(3);
  });

  describe('a follower given a proof that the leader is gone', () => {
    const view: ClusterView = { ...emptyClusterView, leader: { name: 'b', index: '5', session: '1' } };
    const proof = {
      term: { leader: 'b', lease: '1' },
      members: ['a', 'b', 'c'],
      gaveUp: ['a', 'c'],
      leaseMs: G,
      index: '5',
      keyUnchangedForMs: giveUpAfterMs(G),
    };

    it('confirms no leader in failsafe mode while it removes the key', async () => {
      const h = harness({ remove: () => new Promise(() => {}) }, false, {
        settings: { short_lease_ms: G, failsafe_mode: true },
        view,
      });
      await advance(h.clock, 100, 50);
      h.send({ type: 'LEADER_GIVEN_UP', proof });
      await advance(h.clock, 100, 50);
      h.send({ type: 'FAILSAFE_ACCEPTED', leader: 'b' });
      await advance(h.clock, 100, 50);
      const ctx = (h.child().getSnapshot() as { context: { failsafeAccepted: number } }).context;
      expect(ctx.failsafeAccepted).toBe(0);
    });

    it('races without asking the leader proven gone, until another key shows', async () => {
      const members = [member('a'), member('b'), member('c')];
      const h = harness({ acquire: async () => false }, false, { ...fast, view: { ...view, members } });
      h.send({ type: 'FACTS', facts });
      await advance(h.clock, 100, 50);
      h.send({ type: 'LEADER_GIVEN_UP', proof });
      await advance(h.clock, 100, 50);
      h.send({ type: 'CLUSTER', view: { ...emptyClusterView, members } });
      await advance(h.clock, 500, 50);
      expect(h.calls.probed.length).toBeGreaterThan(0);
      for (const asked of h.calls.probed) expect(asked).not.toContain('b');
      // Another holder's key: the proof is moot; a later race asks everyone again.
      h.send({
        type: 'CLUSTER',
        view: { ...emptyClusterView, members, leader: { name: 'c', index: '9', session: '3' } },
      });
      await advance(h.clock, 100, 50);
      const before = h.calls.probed.length;
      h.send({ type: 'CLUSTER', view: { ...emptyClusterView, members } });
      await advance(h.clock, 500, 50);
      expect(h.calls.probed.length).toBeGreaterThan(before);
      expect(h.calls.probed.at(-1)).toContain('b');
    });

    it('removes the key the proof is about', async () => {
      const h = harness({}, false, { ...fast, view });
      await advance(h.clock, 100, 50);
      h.send({ type: 'LEADER_GIVEN_UP', proof });
      await advance(h.clock, 100, 50);
      expect(h.calls.removals).toEqual([{ name: 'b', index: '5', session: '1' }]);
    });

    it.each<
      [string, { proof?: typeof proof; settings?: Partial<ElectionSettings>; failsafeLeader?: string }]
    >([
      ['another revision of the key', { proof: { ...proof, index: '4' } }],
      ['another lease', { proof: { ...proof, term: { leader: 'b', lease: '2' } } }],
      ['the key not silent for W', { proof: { ...proof, keyUnchangedForMs: giveUpAfterMs(G) - 1 } }],
      ['too few gave up', { proof: { ...proof, gaveUp: ['a'] } }],
      ['fast failover off here', { settings: {} }],
      ['the cluster paused', { settings: { short_lease_ms: G, paused: true } }],
      [
        'a leader held in failsafe mode',
        { failsafeLeader: 'b', settings: { short_lease_ms: G, failsafe_mode: true } },
      ],
    ])('does nothing with %s', async (_, c) => {
      const h = harness({}, false, { settings: c.settings ?? fast.settings, view });
      await advance(h.clock, 100, 50);
      if (c.failsafeLeader) h.send({ type: 'FAILSAFE_ACCEPTED', leader: c.failsafeLeader });
      h.send({ type: 'LEADER_GIVEN_UP', proof: c.proof ?? proof });
      await advance(h.clock, 100, 50);
      expect(h.calls.removals).toEqual([]);
    });
  });
});
