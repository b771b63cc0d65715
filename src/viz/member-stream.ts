/**
 * One member's live journal, as the visualizer reads it: each transition (feed.ts) the moment
 * the journal records it, a snapshot for a new subscriber (the latest state of every machine and
 * the recent transitions), and the member's status once a second (role, leadership, the lease
 * deadline its election trusts). Frames are plain data, sent as msgpackr.
 */
import type { Journal } from '../actors/journal.ts';
import { TransitionFeed, type VizTransition } from '../replay/transitions.ts';

export interface MemberStatus {
  role: string;
  state: string;
  isLeader: boolean;
  /** Epoch ms until which the leader trusts its lease (null: not the leader). */
  leaseDeadline: number | null;
}

export type StreamFrame =
  | { type: 'snapshot'; member: string; transitions: VizTransition[] }
  | { type: 'transition'; transition: VizTransition }
  | { type: 'status'; member: string; status: MemberStatus }
  | { type: 'gone'; member: string };

export interface MemberStreamHost {
  name: string;
  journal: Journal;
  /** Role, state and leadership as the REST API reports them. */
  report(): { role: string; state: string; isLeader: boolean };
  /** The election's `leaseLeftMs` now (ms of the lease left at the end of its last refresh). */
  leaseLeftMs(): number | null;
  setInterval(fn: () => void, ms: number): () => void;
}

const RECENT = 40;
const STATUS_EVERY_MS = 1000;

/**
 * Nothing is read while nobody watches: the first subscriber's snapshot is rebuilt from the
 * journal's ring (recent transitions with their causes) and its record of every running actor's
 * last state (the ones that have not moved for longer than the ring holds); the last one to
 * leave stops the reading.
 */
export class MemberStream {
  private feed: TransitionFeed | null = null;
  private readonly latest = new Map<string, VizTransition>();
  private readonly recent: VizTransition[] = [];
  private readonly subscribers = new Set<(frame: StreamFrame) => void>();
  private leaseDeadline: number | null = null;
  private stopTicking: (() => void) | null = null;
  private stopReading: (() => void) | null = null;

  constructor(private readonly h: MemberStreamHost) {}

  private startReading(): void {
    const feed = new TransitionFeed(this.h.name);
    this.feed = feed;
    for (const entry of this.h.journal.entries()) {
      const tr = feed.push(entry);
      if (tr) this.onTransition(tr);
    }
    for (const state of this.h.journal.currentStates()) {
      if (this.latest.has(state.actor)) continue;
      const tr = new TransitionFeed(this.h.name).push(state);
      if (!tr) continue;
      this.latest.set(tr.actor, tr);
      this.noteLease(tr);
    }
    this.stopReading = this.h.journal.subscribe((entry) => {
      const tr = feed.push(entry);
      if (tr) this.onTransition(tr);
    });
  }

  private stopAll(): void {
    this.stopTicking?.();
    this.stopTicking = null;
    this.stopReading?.();
    this.stopReading = null;
    this.feed = null;
    this.latest.clear();
    this.recent.length = 0;
  }

  private onTransition(tr: VizTransition): void {
    // A finished actor (an answered REST request) stays in the recent transitions only.
    if (tr.finished) this.latest.delete(tr.actor);
    else this.latest.set(tr.actor, tr);
    this.recent.push(tr);
    if (this.recent.length > RECENT) this.recent.shift();
    this.noteLease(tr);
    this.send({ type: 'transition', transition: tr });
    if (tr.actor === 'node' || tr.actor === 'node.election') this.send(this.statusFrame());
  }

  /**
   * A refresh just ended (or the lock was just taken): the election trusts its lease for
   * leaseLeftMs more; out of `leader`, there is no deadline of ours.
   */
  private noteLease(tr: VizTransition): void {
    if (tr.actor !== 'node.election') return;
    if (tr.active.includes('leader.holding.idle')) {
      const left = this.h.leaseLeftMs();
      this.leaseDeadline = left === null ? null : tr.t + left;
    } else if (!tr.active.includes('leader')) {
      this.leaseDeadline = null;
    }
  }

  private statusFrame(): StreamFrame {
    return {
      type: 'status',
      member: this.h.name,
      status: { ...this.h.report(), leaseDeadline: this.leaseDeadline },
    };
  }

  private send(frame: StreamFrame): void {
    for (const s of this.subscribers) s(frame);
  }

  /** The frames a new subscriber starts from. */
  snapshot(): StreamFrame[] {
    const inRecent = new Set(this.recent);
    const transitions = [...[...this.latest.values()].filter((t) => !inRecent.has(t)), ...this.recent].sort(
      (a, b) => a.t - b.t,
    );
    return [{ type: 'snapshot', member: this.h.name, transitions }, this.statusFrame()];
  }

  /** Frames from now on, after the snapshot; the status ticks while anyone listens. */
  subscribe(fn: (frame: StreamFrame) => void): () => void {
    if (!this.feed) this.startReading();
    for (const f of this.snapshot()) fn(f);
    this.subscribers.add(fn);
    this.stopTicking ??= this.h.setInterval(() => this.send(this.statusFrame()), STATUS_EVERY_MS);
    return () => {
      this.subscribers.delete(fn);
      if (this.subscribers.size === 0) this.stopAll();
    };
  }

  close(): void {
    this.subscribers.clear();
    this.stopAll();
  }
}
