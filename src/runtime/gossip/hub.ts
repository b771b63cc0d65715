/**
 * One agent's gossip: a link dialed to every other member (its frames go out on it, acks come
 * back), the links the others dialed to us (their frames come in, our acks go out), a status
 * frame every interval and at once when the role, timeline or leader changes, and the leader
 * race's probe: an ask over the open link, GET /patroni with the time left otherwise.
 *
 * Decisions are the pure rules of rules.ts; frames are checked by transport/gossip-frame.ts. A
 * frame that cannot be read is dropped and counted, never trusted; a member that is gone costs
 * one reconnect timer.
 */
import { monotonicNow } from '../../actors/clock.ts';
import type { PeerStatus } from '../../cluster/eligibility.ts';
import type { NodeReport } from '../../cluster/report.ts';
import type { ClusterView, Member } from '../../cluster/view.ts';
import {
  decodeFrame,
  encodeFrame,
  type FrameStamp,
  GOSSIP_VERSION,
  type GossipFrame,
  peerStatusFromFrame,
  type StatusFrame,
  statusFrame,
} from '../../transport/gossip-frame.ts';
import type { GossipLink, LinkEvents } from '../../transport/gossip-link.ts';
import { unreachablePeer } from '../../transport/peer-client.ts';
import type { GossipCounters, GossipHost } from './host.ts';
import { Pending } from './pending.ts';
import {
  admissionRefusal,
  GOSSIP_ASK_MS,
  gossipPeers,
  MAX_BAD_FRAMES_IN_A_ROW,
  PROBE_BUDGET_MS,
  reconnectDelayMs,
  staleAfterMs,
} from './rules.ts';
import { ShortLeaseGossip } from './short-lease.ts';

export type { GossipCounters, GossipHost } from './host.ts';

/** Either end of a link, and what we heard on it. */
interface LinkState {
  name: string;
  link: GossipLink | null;
  open: boolean;
  /** Steady ms of the last frame or ack that came in on it (or of its opening). */
  heardAt: number;
  badInRow: number;
}

interface OutLink extends LinkState {
  apiUrl: string;
  failures: number;
  retry: unknown;
}

export class Gossip {
  private readonly out = new Map<string, OutLink>();
  private readonly incoming = new Set<LinkState>();
  private readonly asks: Pending<StatusFrame>;
  private readonly failsafeAsks: Pending<{ status: number; text: string }>;
  private seq = 0;
  private ticker: unknown = null;
  private running = false;
  private lastShape = '';
  private members: readonly Member[] | null = null;
  readonly counters: GossipCounters = {
    framesSent: 0,
    framesReceived: 0,
    dropped: { undecodable: 0, version: 0, malformed: 0, scope: 0, sender: 0 },
  };

  private readonly lease: ShortLeaseGossip;

  constructor(private readonly h: GossipHost) {
    this.asks = new Pending(h.clock);
    this.failsafeAsks = new Pending(h.clock);
    this.lease = new ShortLeaseGossip({
      clock: h.clock,
      me: h.me,
      scope: h.scope,
      leaseMs: h.shortLeaseMs,
      watchdogMs: h.armedWatchdogMs,
      leading: () => h.report().isLeader,
      nextSeq: () => ++this.seq,
      sendAll: (frame) => this.toEveryOpenLink(() => frame),
      sendTo: (name, frame) => {
        const o = this.out.get(name);
        if (o?.open) this.sendOn(o.link, frame);
      },
      tell: h.tellElection,
      log: h.log,
    });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.tick();
    this.lease.start();
  }

  stop(): void {
    this.running = false;
    this.lease.stop();
    if (this.ticker !== null) this.h.clock.clearTimeout(this.ticker);
    this.ticker = null;
    for (const name of [...this.out.keys()]) this.drop(name);
    for (const s of [...this.incoming]) s.link?.close();
    this.incoming.clear();
    this.asks.giveUp();
    this.failsafeAsks.giveUp();
  }

  /**
   * Failsafe mode: asks `name` over its open link to confirm this node as the leader; what
   * POST /failsafe would have answered, or null without an open link or an answer within 1 s.
   */
  askFailsafe(
    name: string,
    me: { connUrl: string; apiUrl: string },
  ): Promise<{ status: number; text: string } | null> {
    const o = this.out.get(name);
    if (!o?.open) return Promise.resolve(null);
    const seq = ++this.seq;
    const answer = this.failsafeAsks.wait(name, seq, GOSSIP_ASK_MS);
    this.sendOn(o.link, {
      v: GOSSIP_VERSION,
      k: 'failsafe',
      scope: this.h.scope(),
      from: this.h.me(),
      seq,
      conn_url: me.connUrl,
      api_url: me.apiUrl,
    });
    return answer;
  }

  /** The watchdog here was armed or changed: the leader's members hear its timeout now. */
  watchdogChanged(): void {
    if (this.running) this.lease.watchdogChanged();
  }

  /** Members with an open link of ours (for /metrics). */
  connectedPeers(): number {
    let n = 0;
    for (const o of this.out.values()) if (o.open) n++;
    return n;
  }

  /** A new cluster view: links to new members dialed, to departed ones closed. */
  follow(view: ClusterView): void {
    this.members = view.members;
    this.lease.follow(view);
    if (!this.running) return;
    const wanted = gossipPeers(view.members, this.h.me());
    for (const [name, o] of this.out) {
      if (wanted.get(name) !== o.apiUrl) this.drop(name);
    }
    for (const [name, apiUrl] of wanted) {
      if (!this.out.has(name)) {
        const o: OutLink = {
          name,
          apiUrl,
          link: null,
          open: false,
          heardAt: 0,
          badInRow: 0,
          failures: 0,
          retry: null,
        };
        this.out.set(name, o);
        this.dial(o);
      }
    }
  }

  /** Why a member dialing in is refused, null when it may gossip (see rules.ts). */
  refusal(peer: { scope: string | undefined; name: string | undefined }): string | null {
    if (!this.running) return 'gossip is not running';
    return admissionRefusal(this.h.scope(), this.members, peer);
  }

  /** A link `name` dialed to us (already admitted): its events, for the transport to call. */
  accept(name: string, link: GossipLink): LinkEvents {
    const s: LinkState = { name, link, open: true, heardAt: this.now(), badInRow: 0 };
    this.incoming.add(s);
    return {
      open: () => undefined,
      message: (data) => this.receive(s, data),
      close: () => {
        s.open = false;
        s.link = null;
        this.incoming.delete(s);
      },
    };
  }

  /** Our role, timeline or leader changed: everyone hears it now, not an interval later. */
  changed(): void {
    if (!this.running) return;
    this.lease.leadNewTerm();
    const report = this.h.report();
    if (shapeOf(report) !== this.lastShape) this.broadcast(report);
  }

  /**
   * One status frame, built and encoded once, to every member we have an open link to: the same
   * seq on every link, so its acks say who heard that frame.
   */
  private broadcast(report = this.h.report()): void {
    this.lastShape = shapeOf(report);
    this.toEveryOpenLink(() => statusFrame(report, this.stamp()));
  }

  /** One frame, made and encoded once (only if some link is open), on every open link of ours. */
  private toEveryOpenLink(frame: () => GossipFrame): void {
    let bytes: Uint8Array | null = null;
    for (const o of this.out.values()) {
      if (!o.open || !o.link) continue;
      bytes ??= encodeFrame(frame());
      this.counters.framesSent++;
      o.link.send(bytes);
    }
  }

  /**
   * The leader race's probe of every other member (Patroni's is_healthiest_node):
   * each answers over its open gossip link, or over GET /patroni with the rest of the 2 s.
   */
  probe(members: readonly Member[], me: string): Promise<PeerStatus[]> {
    const others = members.filter((m) => m.name !== me && m.data.api_url);
    return Promise.all(others.map((m) => this.probeMember(m)));
  }

  private async probeMember(member: Member): Promise<PeerStatus> {
    const o = this.out.get(member.name);
    if (!o?.open) return this.overRest(member, PROBE_BUDGET_MS);
    const started = this.now();
    const seq = this.sendStatus(o.link, { ask: true });
    const answer = await this.asks.wait(o.name, seq, GOSSIP_ASK_MS);
    if (answer) return { ...(peerStatusFromFrame(answer) ?? unreachablePeer(member)), via: 'gossip' };
    return this.overRest(member, Math.max(0, PROBE_BUDGET_MS - (this.now() - started)));
  }

  private async overRest(member: Member, timeoutMs: number): Promise<PeerStatus> {
    return { ...(await this.h.restProbe(member, timeoutMs)), via: 'rest' };
  }

  private now(): number {
    return monotonicNow(this.h.clock);
  }

  private tick(): void {
    this.ticker = null;
    if (!this.running) return;
    const now = this.now();
    const stale = staleAfterMs(this.h.intervalMs());
    for (const o of [...this.out.values()]) if (o.open && now - o.heardAt > stale) o.link?.close();
    for (const s of [...this.incoming]) if (now - s.heardAt > stale) s.link?.close();
    this.broadcast();
    this.ticker = this.h.clock.setTimeout(() => this.tick(), this.h.intervalMs());
  }

  private dial(o: OutLink): void {
    o.retry = null;
    o.open = false;
    o.link = this.h.dialer.dial(
      { name: o.name, apiUrl: o.apiUrl },
      {
        open: () => {
          if (this.out.get(o.name) !== o) return;
          o.open = true;
          o.failures = 0;
          o.heardAt = this.now();
          this.sendStatus(o.link, {});
          this.lease.linkOpened(o.name);
        },
        message: (data) => {
          if (this.out.get(o.name) === o) this.receive(o, data);
        },
        close: () => this.closed(o),
      },
    );
  }

  /** Our link to `o` is gone: pending asks fall back to REST, and it is dialed again later. */
  private closed(o: OutLink): void {
    const wasOpen = o.open;
    o.open = false;
    o.link = null;
    this.asks.giveUp(o.name);
    this.failsafeAsks.giveUp(o.name);
    if (!this.running || this.out.get(o.name) !== o) return;
    if (!wasOpen) o.failures++;
    o.retry = this.h.clock.setTimeout(() => this.dial(o), reconnectDelayMs(wasOpen ? 0 : o.failures - 1));
  }

  private drop(name: string): void {
    const o = this.out.get(name);
    if (!o) return;
    this.out.delete(name);
    if (o.retry !== null) this.h.clock.clearTimeout(o.retry);
    o.link?.close();
  }

  /** This node's status frame on `link` (asking for the peer's, or answering its ask): its seq. */
  private sendStatus(link: GossipLink | null, opts: { ask?: boolean; answers?: number }): number {
    const stamp = this.stamp();
    if (opts.ask) stamp.ask = stamp.seq;
    if (opts.answers !== undefined) stamp.answers = opts.answers;
    this.sendOn(link, statusFrame(this.h.report(), stamp));
    return stamp.seq;
  }

  /** A new seq, and the clocks as the frame leaves. */
  private stamp(): FrameStamp {
    return { seq: ++this.seq, sentAt: this.now(), wall: this.h.clock.now() };
  }

  private sendOn(link: GossipLink | null, frame: GossipFrame): void {
    if (!link) return;
    this.counters.framesSent++;
    link.send(encodeFrame(frame));
  }

  private ackOf(frame: { seq: number }): GossipFrame {
    return { v: GOSSIP_VERSION, k: 'ack', scope: this.h.scope(), from: this.h.me(), seq: frame.seq };
  }

  private receive(s: LinkState, data: Uint8Array): void {
    const decoded = decodeFrame(data, this.h.scope(), s.name);
    if (!decoded.ok) {
      this.counters.dropped[decoded.reason]++;
      if (++s.badInRow >= MAX_BAD_FRAMES_IN_A_ROW) {
        this.h.log(`gossip: closing the link with ${s.name}: ${s.badInRow} unreadable frames in a row`);
        s.link?.close();
      }
      return;
    }
    s.badInRow = 0;
    s.heardAt = this.now();
    this.counters.framesReceived++;
    const frame = decoded.frame;
    if (frame.k === 'failsafe') {
      const answer = this.h.answerFailsafe(s.name);
      this.sendOn(s.link, {
        v: GOSSIP_VERSION,
        k: 'failsafe-answer',
        scope: this.h.scope(),
        from: this.h.me(),
        seq: ++this.seq,
        answers: frame.seq,
        status: answer.status,
        text: answer.text,
      });
      return;
    }
    if (frame.k === 'failsafe-answer') {
      this.failsafeAsks.answer(s.name, frame.answers, { status: frame.status, text: frame.text });
      return;
    }
    if (frame.k === 'ack') {
      this.lease.ack(s.name, frame.seq);
      return;
    }
    if (frame.k === 'gave-up') {
      this.lease.gaveUpReceived(s.name, frame);
      return;
    }
    if (frame.k === 'lease') {
      if (this.lease.leaseFrame(s.name, frame)) this.sendOn(s.link, this.ackOf(frame));
      return;
    }
    this.sendOn(s.link, this.ackOf(frame));
    const ask = frame.ask;
    if (ask !== undefined) {
      // As fresh as GET /patroni would be: the asker is the leader race, comparing WAL positions.
      const link = s.link;
      void this.h.freshStatus().then(() => {
        if (s.link === link) this.sendStatus(link, { answers: ask });
      });
    }
    if (frame.answers !== undefined) this.asks.answer(s.name, frame.answers, frame);
  }
}

/** What, when it changes, the others must hear at once: state, role, timeline, leadership. */
function shapeOf(r: NodeReport): string {
  return `${r.state}|${r.role}|${r.pg?.running}|${r.pg?.inRecovery}|${r.pg?.timeline}|${r.isLeader}|${r.view?.leader?.name}`;
}
