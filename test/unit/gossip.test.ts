/**
 * The gossip channel without sockets: the frame format and its checks (transport/gossip-frame.ts),
 * the rules (runtime/gossip/rules.ts), and two hubs (runtime/gossip/hub.ts) joined by in-memory
 * links on a simulated clock: frames flow and are acknowledged, the race's probe answers over
 * gossip, falls back to REST with the time left, and bad frames are dropped and counted.
 */
import { pack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import type { PostgresStatus } from '../../src/actors/postgres.ts';
import type { PeerStatus } from '../../src/cluster/eligibility.ts';
import { type NodeReport, statusDocument } from '../../src/cluster/report.ts';
import { giveUpAfterMs, leaseFrameIntervalMs } from '../../src/cluster/short-lease.ts';
import { type ClusterView, emptyClusterView } from '../../src/cluster/view.ts';
import type { ElectionEvent } from '../../src/machines/election/index.ts';
import { Gossip } from '../../src/runtime/gossip/hub.ts';
import {
  admissionRefusal,
  GOSSIP_ASK_MS,
  MAX_BAD_FRAMES_IN_A_ROW,
  reconnectDelayMs,
  staleAfterMs,
} from '../../src/runtime/gossip/rules.ts';
import {
  decodeFrame,
  encodeFrame,
  GOSSIP_VERSION,
  peerStatusFromFrame,
  statusFrame,
} from '../../src/transport/gossip-frame.ts';
import type { GossipDialer, GossipLink, LinkEvents } from '../../src/transport/gossip-link.ts';
import { parsePeerDocument, unreachablePeer } from '../../src/transport/peer-client.ts';
import { member } from '../helpers/members.ts';
import { pgStatus } from '../helpers/pg-status.ts';

const view = (...names: string[]): ClusterView => ({
  ...emptyClusterView,
  members: names.map(member),
  leader: { name: names[0]!, index: '2', session: '1' },
});

function report(name: string, over: Partial<NodeReport> = {}, pg: Partial<PostgresStatus> = {}): NodeReport {
  return {
    name,
    scope: 'batman',
    connUrl: `postgres://${name}:5432/postgres`,
    apiUrl: `http://${name}:8008/patroni`,
    tags: {},
    state: 'running',
    role: 'replica',
    pg: pgStatus({ inRecovery: true, timeline: 3, receivedLsn: 5000, replayedLsn: 4000, ...pg }),
    systemIdentifier: '7',
    isLeader: false,
    view: view('pg1', name),
    dcsLastSeen: 1,
    paused: false,
    synchronousMode: false,
    ...over,
  };
}

describe('gossip frames', () => {
  const frame = statusFrame(report('pg2'), { seq: 7, sentAt: 1234.5, wall: 1_796_000_000_000 });

  it('round-trip through msgpackr as they were sent', () => {
    expect(decodeFrame(encodeFrame(frame), 'batman', 'pg2')).toEqual({ ok: true, frame });
    const ack = { v: GOSSIP_VERSION, k: 'ack', scope: 'batman', from: 'pg2', seq: 7 } as const;
    expect(decodeFrame(encodeFrame(ack), 'batman', 'pg2')).toEqual({ ok: true, frame: ack });
  });

  it('what cannot be trusted is dropped, with the reason', () => {
    const bad = (data: Uint8Array, scope = 'batman', from = 'pg2') => decodeFrame(data, scope, from);
    expect(bad(new Uint8Array([0x81]))).toEqual({ ok: false, reason: 'undecodable' });
    expect(bad(new Uint8Array(0))).toEqual({ ok: false, reason: 'undecodable' });
    expect(bad(pack('hello'))).toEqual({ ok: false, reason: 'malformed' });
    expect(bad(pack([1, 2]))).toEqual({ ok: false, reason: 'malformed' });
    expect(bad(pack({ ...frame, v: 2 }))).toEqual({ ok: false, reason: 'version' });
    expect(bad(pack({ ...frame, k: 'gossip' }))).toEqual({ ok: false, reason: 'malformed' });
    expect(bad(pack({ ...frame, seq: -1 }))).toEqual({ ok: false, reason: 'malformed' });
    expect(bad(pack({ ...frame, received: '5000' }))).toEqual({ ok: false, reason: 'malformed' });
    const { timeline: _, ...noTimeline } = frame;
    expect(bad(pack(noTimeline))).toEqual({ ok: false, reason: 'malformed' });
    expect(bad(encodeFrame(frame), 'robin')).toEqual({ ok: false, reason: 'scope' });
    expect(bad(encodeFrame(frame), 'batman', 'pg3')).toEqual({ ok: false, reason: 'sender' });
  });

  it('tell the race exactly what GET /patroni would (one report, two channels)', () => {
    const reports = [
      report(
        'pg1',
        { role: 'master', isLeader: true },
        { inRecovery: false, currentLsn: 9000, receivedLsn: null },
      ),
      report('pg2'),
      report('pg2', {}, { receivedLsn: null, replayedLsn: 4000 }),
      report('pg2', {}, { receivedLsn: 3000, replayedLsn: 4000, timeline: 0 }),
      report('pg2', { tags: { nofailover: true } }),
      report('pg2', { state: 'stopped' }, { running: false }),
      report('pg2', { state: 'starting', role: 'uninitialized' }, { running: false }),
    ];
    for (const r of reports) {
      const m = member(r.name);
      const overRest = parsePeerDocument(r.name, statusDocument(r)) ?? unreachablePeer(m);
      const overGossip =
        peerStatusFromFrame(statusFrame(r, { seq: 1, sentAt: 0, wall: 0 })) ?? unreachablePeer(m);
      expect(overGossip, JSON.stringify(r.pg)).toEqual(overRest);
    }
  });
});

describe('gossip rules', () => {
  it('dial again after 0.5, 1, 2, then every 5 s', () => {
    expect([0, 1, 2, 3, 4, 50].map(reconnectDelayMs)).toEqual([500, 1000, 2000, 5000, 5000, 5000]);
  });

  it('a silent link is dead after four frames, never under 2 s', () => {
    expect(staleAfterMs(250)).toBe(2000);
    expect(staleAfterMs(1000)).toBe(4000);
  });

  it('admits only members of this scope in the latest view', () => {
    const members = view('pg1', 'pg2').members;
    expect(admissionRefusal('batman', members, { scope: 'batman', name: 'pg2' })).toBeNull();
    expect(admissionRefusal('batman', members, { scope: 'robin', name: 'pg2' })).toMatch(/scope robin/);
    expect(admissionRefusal('batman', members, { scope: 'batman', name: 'pg9' })).toMatch(
      /pg9 is not a member of batman/,
    );
    expect(admissionRefusal('batman', null, { scope: 'batman', name: 'pg2' })).toMatch(/no cluster view/);
    expect(admissionRefusal('batman', members, { scope: undefined, name: 'pg2' })).toMatch(/names no member/);
  });
});

/** An in-memory network of hubs on one simulated clock; a member can be silenced or cut. */
class Net {
  readonly clock = new SimulatedClock();
  readonly hubs = new Map<string, Gossip>();
  readonly reports = new Map<string, NodeReport>();
  readonly restAsked: Array<{ name: string; timeoutMs: number }> = [];
  /** Members whose frames are lost on the way (a frozen process, a cut that the socket does not see). */
  readonly silent = new Set<string>();
  readonly down = new Set<string>();
  readonly links: Array<{ from: string; to: string; closeBoth(): void }> = [];
  /** Fast failover's short lease (ms) for every hub, null: off. */
  shortLeaseMs: number | null = null;
  /** The watchdog timeout armed on each hub's host (none: not armed). */
  readonly watchdogs = new Map<string, number>();
  /** What each hub told its election. */
  readonly told = new Map<string, ElectionEvent[]>();
  /** How each member answers a leader's failsafe frame (none: 502, failsafe mode off). */
  readonly failsafeAnswers = new Map<string, (from: string) => { status: number; text: string }>();

  add(name: string, r: NodeReport = report(name)): Gossip {
    this.reports.set(name, r);
    const hub = new Gossip({
      clock: this.clock,
      me: () => name,
      scope: () => 'batman',
      intervalMs: () => 250,
      report: () => this.reports.get(name)!,
      freshStatus: async () => {},
      dialer: this.dialer(name),
      restProbe: async (m, timeoutMs) => {
        this.restAsked.push({ name: m.name, timeoutMs });
        return { ...unreachablePeer(m), reachable: true, walPosition: 1 };
      },
      answerFailsafe: (from) =>
        this.failsafeAnswers.get(name)?.(from) ?? { status: 502, text: 'Bad Gateway' },
      shortLeaseMs: () => this.shortLeaseMs,
      armedWatchdogMs: () => this.watchdogs.get(name) ?? null,
      tellElection: (event) => {
        const list = this.told.get(name) ?? [];
        list.push(event);
        this.told.set(name, list);
      },
      log: () => undefined,
    });
    this.hubs.set(name, hub);
    return hub;
  }

  private dialer(from: string): GossipDialer {
    return {
      dial: (target, events) => {
        let open = false;
        let closed = false;
        let far: LinkEvents | null = null;
        const closeBoth = () => {
          if (closed) return;
          closed = true;
          this.clock.setTimeout(() => events.close(), 0);
          if (far) {
            const f = far;
            this.clock.setTimeout(() => f.close(), 0);
          }
        };
        const deliver = (to: string, sender: string, fn: () => void) =>
          this.clock.setTimeout(() => {
            if (!closed && !this.silent.has(sender) && !this.silent.has(to)) fn();
          }, 1);
        const mine: GossipLink = {
          send: (data) => deliver(target.name, from, () => far?.message(data)),
          close: closeBoth,
        };
        const theirs: GossipLink = {
          send: (data) => deliver(from, target.name, () => events.message(data)),
          close: closeBoth,
        };
        this.clock.setTimeout(() => {
          const hub = this.hubs.get(target.name);
          if (!hub || this.down.has(target.name) || hub.refusal({ name: from, scope: 'batman' }) !== null) {
            closeBoth();
            return;
          }
          far = hub.accept(from, theirs);
          open = true;
          events.open();
        }, 1);
        this.links.push({ from, to: target.name, closeBoth });
        void open;
        return mine;
      },
    };
  }

  advance(ms: number): Promise<void> {
    return (async () => {
      for (let t = 0; t < ms; t += 10) {
        this.clock.increment(10);
        for (let i = 0; i < 5; i++) await Promise.resolve();
      }
    })();
  }
}

function started(net: Net, ...names: string[]): void {
  for (const n of names) net.add(n);
  for (const hub of net.hubs.values()) {
    hub.start();
    hub.follow(view(...names));
  }
}

describe('the gossip hub', () => {
  it('links every member to every other: frames go out every interval and are acknowledged', async () => {
    const net = new Net();
    started(net, 'pg1', 'pg2', 'pg3');
    await net.advance(1000);
    for (const hub of net.hubs.values()) {
      expect(hub.connectedPeers()).toBe(2);
      // 2 links × (the opening frame + 4 intervals), each frame answered by an ack.
      expect(hub.counters.framesReceived).toBeGreaterThanOrEqual(16);
      expect(Object.values(hub.counters.dropped).every((n) => n === 0)).toBe(true);
    }
  });

  it("the race's probe answers over gossip with the peer's status as GET /patroni would give it", async () => {
    const net = new Net();
    started(net, 'pg1', 'pg2', 'pg3');
    await net.advance(100);
    net.reports.set('pg3', report('pg3', {}, { receivedLsn: 7777, replayedLsn: 7000 }));
    const probing = net.hubs.get('pg2')!.probe(view('pg1', 'pg2', 'pg3').members, 'pg2');
    await net.advance(50);
    const peers = await probing;
    expect(peers.map((p) => [p.name, p.via, p.walPosition])).toEqual([
      ['pg1', 'gossip', 5000],
      ['pg3', 'gossip', 7777],
    ]);
    expect(net.restAsked).toEqual([]);
  });

  it('a member with no open link is asked over REST with the whole 2 s', async () => {
    const net = new Net();
    started(net, 'pg1', 'pg2');
    // pg3 is in the view but has no agent: the dial fails, and keeps failing with backoff.
    net.hubs.get('pg1')!.follow(view('pg1', 'pg2', 'pg3'));
    await net.advance(100);
    const probing = net.hubs.get('pg1')!.probe(view('pg1', 'pg2', 'pg3').members, 'pg1');
    await net.advance(50);
    const peers = await probing;
    expect(peers.map((p) => [p.name, p.via])).toEqual([
      ['pg2', 'gossip'],
      ['pg3', 'rest'],
    ]);
    expect(net.restAsked).toEqual([{ name: 'pg3', timeoutMs: 2000 }]);
  });

  it('a member whose link looks open but answers nothing is asked over REST with the time left', async () => {
    const net = new Net();
    started(net, 'pg1', 'pg2');
    await net.advance(100);
    net.silent.add('pg2');
    const probing = net.hubs.get('pg1')!.probe(view('pg1', 'pg2').members, 'pg1');
    await net.advance(GOSSIP_ASK_MS + 50);
    const [peer] = await probing;
    expect(peer!.via).toBe('rest');
    expect(net.restAsked).toEqual([{ name: 'pg2', timeoutMs: 2000 - GOSSIP_ASK_MS }]);
  });

  it('a silent link is closed as dead and dialed again once the member answers', async () => {
    const net = new Net();
    started(net, 'pg1', 'pg2');
    await net.advance(500);
    net.silent.add('pg2');
    await net.advance(staleAfterMs(250) + 500);
    expect(net.hubs.get('pg1')!.connectedPeers()).toBe(0);
    net.silent.delete('pg2');
    await net.advance(1500);
    expect(net.hubs.get('pg1')!.connectedPeers()).toBe(1);
  });

  it('refuses a dial before it has a view, and from a member not in it', async () => {
    const net = new Net();
    net.add('pg1');
    net.add('pg2');
    net.add('pg9');
    net.hubs.get('pg1')!.start(); // no view yet
    net.hubs.get('pg2')!.start();
    net.hubs.get('pg2')!.follow(view('pg2', 'pg1'));
    await net.advance(100);
    expect(net.hubs.get('pg2')!.connectedPeers()).toBe(0);
    net.hubs.get('pg1')!.follow(view('pg1', 'pg2'));
    net.hubs.get('pg9')!.start();
    net.hubs.get('pg9')!.follow(view('pg9', 'pg1'));
    await net.advance(2000);
    expect(net.hubs.get('pg2')!.connectedPeers()).toBe(1);
    expect(net.hubs.get('pg9')!.connectedPeers()).toBe(0);
  });

  it('counts frames it cannot read, and closes a link that sends nothing else', async () => {
    const net = new Net();
    net.add('pg1');
    const hub = net.hubs.get('pg1')!;
    hub.start();
    hub.follow(view('pg1', 'pg2'));
    let closed = 0;
    const sent: Uint8Array[] = [];
    const events = hub.accept('pg2', { send: (d) => sent.push(d), close: () => closed++ });
    events.message(
      encodeFrame(statusFrame(report('pg2', { scope: 'robin' }), { seq: 1, sentAt: 0, wall: 0 })),
    );
    events.message(encodeFrame(statusFrame(report('pg3'), { seq: 1, sentAt: 0, wall: 0 })));
    events.message(encodeFrame(statusFrame(report('pg2'), { seq: 1, sentAt: 0, wall: 0 })));
    expect(hub.counters.dropped).toMatchObject({ scope: 1, sender: 1 });
    expect(hub.counters.framesReceived).toBe(1);
    expect(sent).toHaveLength(1); // the ack of the one good frame
    for (let i = 0; i < MAX_BAD_FRAMES_IN_A_ROW - 1; i++) events.message(new Uint8Array([0x92, 0x01]));
    expect(closed).toBe(0);
    events.message(pack({ v: 99 }));
    expect(hub.counters.dropped).toMatchObject({ undecodable: MAX_BAD_FRAMES_IN_A_ROW - 1, version: 1 });
    expect(closed).toBe(1);
  });

  it('a change of role is told at once, not an interval later', async () => {
    const net = new Net();
    started(net, 'pg1', 'pg2');
    await net.advance(100);
    const before = net.hubs.get('pg2')!.counters.framesReceived;
    net.reports.set(
      'pg1',
      report('pg1', { isLeader: true, role: 'master' }, { inRecovery: false, currentLsn: 1 }),
    );
    net.hubs.get('pg1')!.changed();
    await net.advance(5);
    expect(net.hubs.get('pg2')!.counters.framesReceived).toBe(before + 1);
    net.hubs.get('pg1')!.changed(); // nothing new: nothing sent
    await net.advance(5);
    expect(net.hubs.get('pg2')!.counters.framesReceived).toBe(before + 1);
  });

  it('stopping closes every link and answers pending asks (REST takes over)', async () => {
    const net = new Net();
    started(net, 'pg1', 'pg2');
    await net.advance(100);
    net.silent.add('pg2');
    const probing = net.hubs.get('pg1')!.probe(view('pg1', 'pg2').members, 'pg1');
    net.hubs.get('pg1')!.stop();
    const [peer] = await probing;
    expect(peer!.via).toBe('rest');
    expect(net.hubs.get('pg1')!.connectedPeers()).toBe(0);
    const status: PeerStatus = peer!;
    expect(status.reachable).toBe(true);
  });
});

describe("fast failover's short lease over gossip", () => {
  const G = 3000;
  /** Long enough for the first lease frame to be heard and acked. */
  const WARM = leaseFrameIntervalMs(G) + 200;
  /** pg1 leads (its key on lease '1'), pg2 and pg3 follow; every hub with fast failover on. */
  function leaderAndTwo(): Net {
    const net = new Net();
    net.shortLeaseMs = G;
    started(net, 'pg1', 'pg2', 'pg3');
    net.reports.set(
      'pg1',
      report('pg1', { isLeader: true, role: 'master' }, { inRecovery: false, currentLsn: 9000 }),
    );
    return net;
  }
  const told = (net: Net, name: string, type: ElectionEvent['type']) =>
    (net.told.get(name) ?? []).filter((e) => e.type === type);

  it("a majority of the term's members acking a lease frame renews the leader, counted from its sending", async () => {
    const net = leaderAndTwo();
    await net.advance(WARM + leaseFrameIntervalMs(G));
    const renewals = told(net, 'pg1', 'SHORT_LEASE_RENEWED');
    expect(renewals.length).toBeGreaterThanOrEqual(2);
    for (const r of renewals) expect((r as { ageMs: number }).ageMs).toBeLessThan(50);
    expect(net.told.get('pg2') ?? []).toEqual([]);
    // One member silent: the other's ack still makes two of three.
    net.silent.add('pg3');
    const before = told(net, 'pg1', 'SHORT_LEASE_RENEWED').length;
    await net.advance(2000);
    expect(told(net, 'pg1', 'SHORT_LEASE_RENEWED').length).toBeGreaterThan(before);
    // Both silent: the leader alone is no majority.
    net.silent.add('pg2');
    await net.advance(100);
    const alone = told(net, 'pg1', 'SHORT_LEASE_RENEWED').length;
    await net.advance(2000);
    expect(told(net, 'pg1', 'SHORT_LEASE_RENEWED').length).toBe(alone);
  });

  it('the leader silent: its members give it up W after its last frame, prove it together, and never ack it again', async () => {
    const net = leaderAndTwo();
    await net.advance(WARM);
    net.silent.add('pg1');
    await net.advance(giveUpAfterMs(G) - 1000);
    expect(told(net, 'pg2', 'LEADER_GIVEN_UP')).toEqual([]);
    await net.advance(1500);
    for (const m of ['pg2', 'pg3']) {
      const proofs = told(net, m, 'LEADER_GIVEN_UP') as Array<
        Extract<ElectionEvent, { type: 'LEADER_GIVEN_UP' }>
      >;
      expect(proofs.length).toBeGreaterThan(0);
      const { proof } = proofs.at(-1)!;
      expect(proof.term).toEqual({ leader: 'pg1', lease: '1' });
      expect(proof.members).toEqual(['pg1', 'pg2', 'pg3']);
      expect([...proof.gaveUp].sort()).toEqual(['pg2', 'pg3']);
      expect(proof.index).toBe('2');
    }
    // Heard again: no member acks the term it gave up, so gossip renews the leader no more.
    net.silent.delete('pg1');
    const renewed = told(net, 'pg1', 'SHORT_LEASE_RENEWED').length;
    await net.advance(3000);
    expect(told(net, 'pg1', 'SHORT_LEASE_RENEWED').length).toBe(renewed);
  });

  it('asks the election for a new term when its members change, or one gives the term up, until the term changes', async () => {
    const withPg4 = { ...view('pg1', 'pg2', 'pg3', 'pg4') };
    const net = leaderAndTwo();
    // The term's members are fixed with its first frame (a frame interval in).
    await net.advance(WARM);
    expect(told(net, 'pg1', 'SHORT_LEASE_NEW_TERM')).toEqual([]);
    net.hubs.get('pg1')!.follow(withPg4);
    expect(told(net, 'pg1', 'SHORT_LEASE_NEW_TERM')).toHaveLength(1);
    // Asked again while the term stays (a request can meet a refresh under way, or a reclaim).
    await net.advance(2000);
    const asked = told(net, 'pg1', 'SHORT_LEASE_NEW_TERM').length;
    expect(asked).toBeGreaterThan(1);
    // The key on a new lease: a new term, its members as they are now; no more asking.
    net.hubs.get('pg1')!.follow({ ...withPg4, leader: { name: 'pg1', index: '9', session: '2' } });
    await net.advance(2000);
    expect(told(net, 'pg1', 'SHORT_LEASE_NEW_TERM')).toHaveLength(asked);

    const other = leaderAndTwo();
    await other.advance(WARM);
    other.silent.add('pg3');
    // pg3 gives pg1 up; once heard again it says so, and pg1 wants a new term.
    await other.advance(giveUpAfterMs(G) + 500);
    other.silent.delete('pg3');
    await other.advance(2000);
    expect(told(other, 'pg1', 'SHORT_LEASE_NEW_TERM').length).toBeGreaterThan(0);
  });

  it('a new term: its first lease frame goes out at once, not a frame interval later', async () => {
    const net = leaderAndTwo();
    await net.advance(WARM);
    // Just after a frame: the next tick is most of a frame interval away.
    const sentAt = () => told(net, 'pg1', 'SHORT_LEASE_RENEWED').map((e) => (e as { sentAt: number }).sentAt);
    const lastTick = Math.max(...sentAt());
    await net.advance(lastTick + 100 - net.clock.now());
    const won = net.clock.now();
    // The key won on a new lease (an acquisition with etcd slow may leave little of the lease).
    net.hubs
      .get('pg1')!
      .follow({ ...view('pg1', 'pg2', 'pg3'), leader: { name: 'pg1', index: '9', session: '2' } });
    await net.advance(100);
    expect(sentAt().filter((t) => t >= won).length).toBe(1);
    expect(Math.min(...sentAt().filter((t) => t >= won)) - won).toBeLessThan(leaseFrameIntervalMs(G) - 200);
  });

  it('the leader’s watchdog armed: its members never give it up (only the watchdog stops a frozen agent)', async () => {
    const net = leaderAndTwo();
    net.watchdogs.set('pg1', 25_000);
    net.hubs.get('pg1')!.watchdogChanged();
    await net.advance(1000);
    net.silent.add('pg1');
    await net.advance(60_000);
    expect(told(net, 'pg2', 'LEADER_GIVEN_UP')).toEqual([]);
    expect(told(net, 'pg3', 'LEADER_GIVEN_UP')).toEqual([]);
  });

  it('off: no lease frame, no renewal, no proof', async () => {
    const quiet = new Net();
    started(quiet, 'pg1', 'pg2', 'pg3');
    quiet.reports.set(
      'pg1',
      report('pg1', { isLeader: true, role: 'master' }, { inRecovery: false, currentLsn: 9000 }),
    );
    quiet.silent.add('pg1');
    await quiet.advance(10_000);
    expect([...quiet.told.values()].flat()).toEqual([]);
  });
});
