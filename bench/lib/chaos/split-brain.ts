/**
 * Split brain in a chaos run's acknowledged writes, as the clients saw it (checker.ts reports it).
 *
 * Both client groups count: the direct clients are there to see it. Acks without a timeline are
 * left out.
 *
 * - certain: an ack by node X on timeline t that *started* after an ack by another node Y on a
 *   higher timeline u > t had *ended*. Real-time order is then known: the newer primary had
 *   committed and answered before the old one was even sent the write it went on to commit.
 * - diverged timelines: two different nodes acknowledging on the same timeline number — two
 *   promotions from one parent. The acks of the node whose first such ack came later are flagged.
 * - window overlap (information only): per epoch (node, timeline) the interval [first ack start,
 *   last ack end]; two epochs of different nodes whose intervals intersect, with the length of the
 *   intersection. A slow last ack of an old primary makes one without anything wrong.
 */
import type { Attempt } from './types.ts';

export type Ack = Attempt & { node: string };

export interface Epoch {
  node: string;
  timeline: number;
  acks: number;
  /** Start of its first ack, end of its last ack. */
  first: number;
  last: number;
  /** Earliest end of any of its acks: from then on a lower timeline elsewhere is stale. */
  firstEnd: number;
}

/** Acks of `node` on `timeline` that started after `newer` (another node, higher timeline) ended. */
export interface StaleAcks {
  node: string;
  timeline: number;
  ids: number[];
  first: number;
  last: number;
  newer: { id: number; node: string; timeline: number; end: number };
}

export interface SplitBrain {
  stale: StaleAcks[];
  sameTimeline: Array<{ timeline: number; epochs: Epoch[] }>;
  overlaps: Array<{ a: Epoch; b: Epoch; overlapMs: number }>;
}

export function epochsOf(acks: Ack[]): Epoch[] {
  const byKey = new Map<string, Epoch>();
  for (const a of acks) {
    if (a.timeline === undefined) continue;
    const key = `${a.node}\u0000${a.timeline}`;
    const e = byKey.get(key);
    if (!e) {
      byKey.set(key, {
        node: a.node,
        timeline: a.timeline,
        acks: 1,
        first: a.start,
        last: a.end,
        firstEnd: a.end,
      });
      continue;
    }
    e.acks++;
    e.first = Math.min(e.first, a.start);
    e.last = Math.max(e.last, a.end);
    e.firstEnd = Math.min(e.firstEnd, a.end);
  }
  return [...byKey.values()].sort((x, y) => x.first - y.first);
}

export function splitBrain(acks: Ack[], epochs: Epoch[]): SplitBrain & { flagged: number[] } {
  // For each epoch (X, t): the newer epoch of another node that acknowledged first. Any ack of
  // (X, t) starting after that one ended is stale. Epochs are few, acks many: this stays linear.
  const proof = new Map<string, Epoch>();
  for (const e of epochs) {
    let best: Epoch | undefined;
    for (const o of epochs) {
      if (o.node !== e.node && o.timeline > e.timeline && (!best || o.firstEnd < best.firstEnd)) best = o;
    }
    if (best) proof.set(`${e.node}\u0000${e.timeline}`, best);
  }
  const staleBy = new Map<string, StaleAcks>();
  for (const a of acks) {
    if (a.timeline === undefined) continue;
    const key = `${a.node}\u0000${a.timeline}`;
    const newer = proof.get(key);
    if (!newer || a.start <= newer.firstEnd) continue;
    const g = staleBy.get(key);
    if (g) {
      g.ids.push(a.id);
      g.first = Math.min(g.first, a.start);
      g.last = Math.max(g.last, a.end);
      continue;
    }
    const first = acks.find(
      (b) => b.node === newer.node && b.timeline === newer.timeline && b.end === newer.firstEnd,
    )!;
    staleBy.set(key, {
      node: a.node,
      timeline: a.timeline,
      ids: [a.id],
      first: a.start,
      last: a.end,
      newer: { id: first.id, node: newer.node, timeline: newer.timeline, end: newer.firstEnd },
    });
  }
  const stale = [...staleBy.values()].sort((x, y) => x.first - y.first);

  const sameTimeline: SplitBrain['sameTimeline'] = [];
  const flaggedEpochs = new Set<string>();
  for (const tl of new Set(epochs.map((e) => e.timeline))) {
    const on = epochs.filter((e) => e.timeline === tl);
    if (on.length < 2) continue;
    sameTimeline.push({ timeline: tl, epochs: on });
    for (const e of on.slice(1)) flaggedEpochs.add(`${e.node}\u0000${e.timeline}`); // sorted by first ack
  }

  const overlaps: SplitBrain['overlaps'] = [];
  for (let i = 0; i < epochs.length; i++) {
    for (let j = i + 1; j < epochs.length; j++) {
      const a = epochs[i]!;
      const b = epochs[j]!;
      const overlapMs = Math.min(a.last, b.last) - Math.max(a.first, b.first);
      if (a.node !== b.node && overlapMs > 0) overlaps.push({ a, b, overlapMs });
    }
  }

  const flagged = stale.flatMap((g) => g.ids);
  for (const a of acks) {
    if (a.timeline !== undefined && flaggedEpochs.has(`${a.node}\u0000${a.timeline}`)) flagged.push(a.id);
  }
  return { stale, sameTimeline, overlaps, flagged };
}
