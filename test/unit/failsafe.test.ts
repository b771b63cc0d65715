/**
 * Failsafe mode (Patroni 3.0's `failsafe_mode`): the pure rules (src/cluster/failsafe.ts), the
 * race's exclusion of members /failsafe does not name, and the election machine on both sides —
 * the leader kept by its members' confirmation while etcd does not answer (and only then), and a
 * replica that confirmed a leader holding back from the race for a ttl.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type AnyEventObject, createActor, createMachine, fromPromise, sendTo } from 'xstate';
import {
  isRequestedCandidate,
  judgeHealthiest,
  type LocalFacts,
  type PeerStatus,
} from '../../src/cluster/eligibility.ts';
import {
  excludedByFailsafe,
  failsafeNamesMe,
  failsafeTopology,
  membersToConfirm,
  noPrimaryFailsafeKeeps,
  raceMembers,
  sameTopology,
} from '../../src/cluster/failsafe.ts';
import { type ClusterView, emptyClusterView } from '../../src/cluster/view.ts';
import {
  type ElectionSettings,
  electionMachine,
  type FailsafeConfirmation,
  leaseMarginMs,
  type RefreshResult,
} from '../../src/machines/election/index.ts';
import { decodeFailsafe } from '../../src/transport/etcd-keys.ts';
import { member } from '../helpers/members.ts';
import { advance, SimulatedClock, settle } from '../helpers/sim.ts';

const settings: ElectionSettings = {
  ttl: 30,
  loop_wait: 10,
  retry_timeout: 10,
  maximum_lag_on_failover: 1048576,
  check_timeline: false,
  synchronous_mode: false,
  failsafe_mode: true,
};

const view = (over: Partial<ClusterView> = {}): ClusterView => ({
  ...emptyClusterView,
  members: [member('a'), member('b'), member('c')],
  ...over,
});

const TOPOLOGY = { a: 'http://a:8008/patroni', b: 'http://b:8008/patroni', c: 'http://c:8008/patroni' };

/** A running replica, c, that /failsafe (naming a and b) leaves out. */
const OUTSIDER: LocalFacts = {
  name: 'c',
  running: true,
  inRecovery: true,
  walPosition: 10,
  timeline: 1,
  nofailover: false,
  streaming: false,
};

describe('failsafe rules', () => {
  it('/failsafe names every member key with its api_url, and the leader itself', () => {
    expect(failsafeTopology(view(), 'a', 'http://x/patroni')).toEqual(TOPOLOGY);
    expect(failsafeTopology(view({ members: [member('b')] }), 'a', 'http://a:1/patroni')).toEqual({
      b: 'http://b:8008/patroni',
      a: 'http://a:1/patroni',
    });
  });

  it('compares topologies as Patroni does (same names, same addresses)', () => {
    expect(sameTopology(TOPOLOGY, { ...TOPOLOGY })).toBe(true);
    expect(sameTopology(TOPOLOGY, { ...TOPOLOGY, c: 'http://c:9/patroni' })).toBe(false);
    expect(sameTopology(TOPOLOGY, { a: TOPOLOGY.a, b: TOPOLOGY.b })).toBe(false);
    expect(sameTopology(null, TOPOLOGY)).toBe(false);
    expect(sameTopology(null, null)).toBe(true);
  });

  it('the leader asks every other member named, and may ask only if named itself', () => {
    expect(membersToConfirm(TOPOLOGY, 'a').map((m) => m.name)).toEqual(['b', 'c']);
    expect(membersToConfirm(null, 'a')).toEqual([]);
    expect(failsafeNamesMe(TOPOLOGY, 'a')).toBe(true);
    expect(failsafeNamesMe(TOPOLOGY, 'z')).toBe(false);
    expect(failsafeNamesMe(null, 'a')).toBe(false);
  });

  it('a member /failsafe does not name never races (nor as a named candidate); members only it names are asked', () => {
    const v = view({ failsafe: { a: TOPOLOGY.a, b: TOPOLOGY.b, d: 'http://d:8008/patroni' } });
    expect(excludedByFailsafe(v, 'c', settings)).toBe(true);
    expect(excludedByFailsafe(v, 'b', settings)).toBe(false);
    expect(excludedByFailsafe(v, 'c', { ...settings, failsafe_mode: false })).toBe(false);
    expect(excludedByFailsafe(view({ failsafe: {} }), 'c', settings)).toBe(false);
    expect(raceMembers(v, settings).map((m) => m.name)).toEqual(['a', 'b', 'c', 'd']);
    expect(raceMembers(v, { failsafe_mode: false }).map((m) => m.name)).toEqual(['a', 'b', 'c']);
    const me = OUTSIDER;
    expect(judgeHealthiest(v, me, [], settings)).toEqual({
      healthiest: false,
      reason: 'not named in /failsafe',
    });
    const asked = { ...v, failover: { index: '3', member: 'c' } };
    expect(isRequestedCandidate(asked, me, settings)).toBe(false);
    expect(isRequestedCandidate(asked, me, { ...settings, failsafe_mode: false })).toBe(true);
  });

  // Found by the simulator (failsafe seed 156): /failsafe named only the last leader, which had
  // fallen behind by the time everyone was back — it yielded to those ahead, who could not race.
  it('a member left out of /failsafe races once every member named there answered as a running replica', () => {
    const v = view({ failsafe: { a: TOPOLOGY.a, b: TOPOLOGY.b } });
    const me = OUTSIDER;
    const replica = (name: string, over: Partial<PeerStatus> = {}): PeerStatus => ({
      name,
      reachable: true,
      inRecovery: true,
      walPosition: 5,
      timeline: 1,
      nofailover: false,
      watchdogFailed: false,
      ...over,
    });
    expect(noPrimaryFailsafeKeeps(v, 'c', [replica('a'), replica('b')])).toBe(true);
    expect(judgeHealthiest(v, me, [replica('a'), replica('b')], settings).healthiest).toBe(true);
    // One named member not heard, or a primary (failsafe mode may keep it): still left out.
    for (const peers of [
      [replica('a')],
      [replica('a'), replica('b', { reachable: false })],
      [replica('a'), replica('b', { inRecovery: false })],
    ]) {
      expect(noPrimaryFailsafeKeeps(v, 'c', peers)).toBe(false);
      expect(judgeHealthiest(v, me, peers, settings).reason).toBe('not named in /failsafe');
    }
  });

  it('reads /failsafe only when it is a JSON object', () => {
    const rec = (value: string) => ({ key: 'k', value, modRevision: '1', createRevision: '1', lease: '0' });
    expect(decodeFailsafe(rec(JSON.stringify(TOPOLOGY)))).toEqual(TOPOLOGY);
    expect(decodeFailsafe(rec('[1]'))).toBeNull();
    expect(decodeFailsafe(rec('nope'))).toBeNull();
    expect(decodeFailsafe(rec('{"a":"http://a/patroni","b":3}'))).toEqual({ a: 'http://a/patroni' });
  });
});

const running: Array<{ stop(): void }> = [];
afterEach(() => {
  for (const a of running.splice(0)) a.stop();
});

interface Fakes {
  acquire?: () => Promise<boolean>;
  update?: () => Promise<boolean>;
  confirm?: (members: Array<{ name: string }>) => Promise<FailsafeConfirmation>;
}

/** The election under a parent that records what it is told, with failsafe actors faked. */
function harness(fakes: Fakes, holdsLock: boolean) {
  const calls = {
    update: 0,
    confirm: [] as string[][],
    written: [] as Record<string, string>[],
    failsafeFlags: [] as boolean[],
  };
  const received: AnyEventObject[] = [];
  const election = electionMachine.provide({
    actors: {
      freshLease: fromPromise(async () => {}),
      clearFailoverKey: fromPromise(async () => ({ leaseAgeMs: 5, leaseTtlSeconds: 30 })),
      acquireLeader: fromPromise(async () => ({
        won: await (fakes.acquire ?? (async () => true))(),
        leaseAgeMs: 5,
        leaseTtlSeconds: 30,
      })),
      updateLeader: fromPromise<
        RefreshResult,
        { name: string; recreate: boolean; ttl: number; failsafe?: boolean }
      >(async ({ input }) => {
        calls.update++;
        calls.failsafeFlags.push(input.failsafe === true);
        if (!(await (fakes.update ?? (async () => true))())) throw new Error('etcd unreachable');
        return { ok: true, elapsedMs: 5, leaseTtlSeconds: 30 };
      }),
      deleteLeader: fromPromise(async () => true),
      sampleOwnPosition: fromPromise(async () => {}),
      probePeers: fromPromise(async (): Promise<PeerStatus[]> => []),
      writeFailsafe: fromPromise(async ({ input }: { input: { topology: Record<string, string> } }) => {
        calls.written.push(input.topology);
      }),
      keepWatchdogAlive: fromPromise(async () => {}),
      confirmFailsafe: fromPromise(
        async ({ input }: { input: { members: Array<{ name: string; apiUrl: string }> } }) => {
          calls.confirm.push(input.members.map((m) => m.name));
          return (fakes.confirm ?? (async () => ({ confirmed: true, elapsedMs: 10 })))(input.members);
        },
      ),
    },
  });
  const parent = createMachine({
    types: {} as { events: AnyEventObject },
    invoke: {
      id: 'election',
      src: election,
      input: {
        name: 'a',
        settings: { ...settings, api_url: 'http://a:8008/patroni' },
        holdsLock,
        view: view({ leader: holdsLock ? { name: 'a', index: '2', session: '1' } : null }),
      },
    },
    on: {
      '*': {
        actions: [
          ({ event }) => {
            if (/^(LEADERSHIP|FAILSAFE_ACTIVE)/.test(String(event.type))) received.push(event);
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
  const context = () => (child().getSnapshot() as { context: Record<string, unknown> }).context;
  return { clock, calls, received, child, context, send: (e: AnyEventObject) => actor.send(e) };
}

const replicaFacts: LocalFacts = {
  name: 'a',
  running: true,
  inRecovery: true,
  walPosition: 100,
  timeline: 1,
  nofailover: false,
  streaming: true,
};
const primaryFacts: LocalFacts = { ...replicaFacts, inRecovery: false };
const lockedView = view({ leader: { name: 'a', index: '2', session: '1' }, failsafe: TOPOLOGY });

describe('failsafe mode in the election: the leader', () => {
  it('writes /failsafe with every member once, and again when the members change', async () => {
    const h = harness({}, true);
    h.send({ type: 'FACTS', facts: primaryFacts });
    h.send({ type: 'CLUSTER', view: view({ leader: { name: 'a', index: '2', session: '1' } }) });
    await settle();
    expect(h.calls.written).toEqual([TOPOLOGY]);
    h.send({ type: 'CLUSTER', view: view({ leader: { name: 'a', index: '2', session: '1' } }) });
    await settle();
    expect(h.calls.written).toHaveLength(1);
    h.send({
      type: 'CLUSTER',
      view: view({ leader: { name: 'a', index: '2', session: '1' }, members: [member('a'), member('b')] }),
    });
    await settle();
    expect(h.calls.written.at(-1)).toEqual({ a: TOPOLOGY.a, b: TOPOLOGY.b });
  });

  it('keeps the lock past its deadline while every member confirms it, and says failsafe mode is active', async () => {
    let etcd = false;
    const h = harness({ update: async () => etcd }, true);
    h.send({ type: 'FACTS', facts: primaryFacts });
    h.send({ type: 'CLUSTER', view: lockedView });
    // Well past ttl − margin without a single good refresh.
    await advance(h.clock, 90_000, 500);
    expect(h.received.map((e) => e.type)).not.toContain('LEADERSHIP_LOST');
    expect(h.calls.confirm.length).toBeGreaterThanOrEqual(4);
    expect(h.calls.confirm[0]).toEqual(['b', 'c']);
    expect(h.received).toContainEqual({ type: 'FAILSAFE_ACTIVE', active: true });
    // Kept by the members: a lease etcd expired meanwhile may be replaced by the next refresh.
    expect(h.calls.failsafeFlags.at(-1)).toBe(true);
    etcd = true;
    await advance(h.clock, 15_000, 500);
    expect(h.received.at(-1)).toEqual({ type: 'FAILSAFE_ACTIVE', active: false });
    expect(h.context()['onFailsafe']).toBe(false);
  });

  it('demotes by its own deadline when a member does not confirm it', async () => {
    const h = harness(
      { update: async () => false, confirm: async () => ({ confirmed: false, elapsedMs: 10 }) },
      true,
    );
    h.send({ type: 'FACTS', facts: primaryFacts });
    h.send({ type: 'CLUSTER', view: lockedView });
    await advance(h.clock, settings.ttl * 1000 - leaseMarginMs(settings) - 100, 100);
    expect(h.received.map((e) => e.type)).not.toContain('LEADERSHIP_LOST');
    await advance(h.clock, 500, 100);
    expect(h.received.map((e) => e.type)).toContain('LEADERSHIP_LOST');
    expect(h.received).not.toContainEqual({ type: 'FAILSAFE_ACTIVE', active: true });
  });

  it('without its own name in /failsafe it asks nobody and demotes by its deadline', async () => {
    const h = harness({ update: async () => false }, true);
    h.send({ type: 'FACTS', facts: primaryFacts });
    h.send({ type: 'CLUSTER', view: { ...lockedView, failsafe: { b: TOPOLOGY.b } } });
    await advance(h.clock, 31_000, 500);
    expect(h.calls.confirm).toEqual([]);
    expect(h.received.map((e) => e.type)).toContain('LEADERSHIP_LOST');
  });

  it('confirms no other leader while it holds the lock', async () => {
    const h = harness({}, true);
    h.send({ type: 'FACTS', facts: primaryFacts });
    h.send({ type: 'CLUSTER', view: lockedView });
    await settle();
    h.send({ type: 'FAILSAFE_ACCEPTED', leader: 'b' });
    expect(h.context()['failsafeAccepted']).toBe(0);
  });
});

describe('failsafe mode in the election: a replica', () => {
  it('that confirmed a leader does not race for a ttl, whatever etcd shows; then it does', async () => {
    const h = harness({}, false);
    h.send({ type: 'FACTS', facts: replicaFacts });
    h.send({
      type: 'CLUSTER',
      view: view({ leader: { name: 'b', index: '2', session: '1' }, failsafe: TOPOLOGY }),
    });
    await settle();
    h.send({ type: 'FAILSAFE_ACCEPTED', leader: 'b' });
    expect(h.context()['failsafeAccepted']).toBe(1);
    expect(h.received).toContainEqual({ type: 'FAILSAFE_ACTIVE', active: true });
    h.send({ type: 'CLUSTER', view: view({ failsafe: TOPOLOGY }) });
    await advance(h.clock, settings.ttl * 1000 - 500, 500);
    expect(h.received.map((e) => e.type)).not.toContain('LEADERSHIP_ACQUIRED');
    await advance(h.clock, 2000, 500);
    expect(h.received.map((e) => e.type)).toContain('LEADERSHIP_ACQUIRED');
    expect(h.received).toContainEqual({ type: 'FAILSAFE_ACTIVE', active: false });
  });

  it('refuses while its PostgreSQL runs as a primary, and while it takes the lock', async () => {
    const h = harness({ acquire: () => new Promise<boolean>(() => {}) }, false);
    h.send({ type: 'FACTS', facts: primaryFacts });
    h.send({
      type: 'CLUSTER',
      view: view({ leader: { name: 'b', index: '2', session: '1' }, failsafe: TOPOLOGY }),
    });
    await settle();
    h.send({ type: 'FAILSAFE_ACCEPTED', leader: 'b' });
    expect(h.context()['failsafeAccepted']).toBe(0);
    // A replica, racing for a free lock: in the create transaction (it never answers here).
    h.send({ type: 'FACTS', facts: replicaFacts });
    h.send({ type: 'CLUSTER', view: view({ failsafe: TOPOLOGY }) });
    await settle();
    expect(JSON.stringify(h.child().getSnapshot().value)).toContain('takingLock');
    h.send({ type: 'FAILSAFE_ACCEPTED', leader: 'b' });
    expect(h.context()['failsafeAccepted']).toBe(0);
  });
});
