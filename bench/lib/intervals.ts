/** Time intervals from probe samples, and how long two or more nodes were writable at once. */

export interface Interval {
  from: number;
  to: number;
}

/** Consecutive samples no more than `maxGapMs` apart form one interval [first, last]. */
export function runsOf(times: number[], maxGapMs: number): Interval[] {
  const out: Interval[] = [];
  for (const t of times) {
    const last = out.at(-1);
    if (last && t - last.to <= maxGapMs) last.to = t;
    else out.push({ from: t, to: t });
  }
  return out;
}

/**
 * Total time during which intervals of at least two different nodes overlap, and when that
 * first happened (null: never). Intervals are closed: [first, last] seen writable.
 */
export function overlapOfNodes(byNode: Map<string, Interval[]>): { totalMs: number; firstAt: number | null } {
  const events: Array<{ at: number; delta: number }> = [];
  for (const runs of byNode.values()) {
    for (const r of runs) events.push({ at: r.from, delta: 1 }, { at: r.to, delta: -1 });
  }
  events.sort((a, b) => a.at - b.at || a.delta - b.delta); // touching is not overlapping
  let open = 0;
  let totalMs = 0;
  let firstAt: number | null = null;
  let prev = 0;
  for (const e of events) {
    if (open >= 2) totalMs += e.at - prev;
    prev = e.at;
    open += e.delta;
    if (open >= 2 && firstAt === null) firstAt = e.at;
  }
  return { totalMs, firstAt };
}
