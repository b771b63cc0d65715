/**
 * The chaos run's verdict, computed from its records alone (types.ts), so a saved run can be
 * judged again. Pure: no cluster, no clock.
 *
 * Lost writes. An acknowledged attempt (outcome 'ok') whose id is not in the final read is lost.
 * With asynchronous replication Patroni documents one way to lose one: the last commits of a
 * primary that died or was cut off, before they reached the replica that took over. A lost ack is
 * *explained* when all of these hold:
 * - the node X that acknowledged it on timeline t was hit by a fault that can cost a leader its
 *   leadership without a clean handover (LEADER_LOSS_KINDS with target X, or a cluster-wide DCS
 *   loss), and the ack ended in [fault.start − lagMs, healed + windowMs]: just before the fault
 *   began (the async window: what had not yet streamed), while it was held (an isolated primary
 *   keeps acknowledging until it demotes itself), or after the heal (a thawed primary
 *   acknowledges until its agent sees the newer leader);
 * - another node later acknowledged writes on a higher timeline u > t (after the ack and not
 *   before the fault began), or, failing any such ack, the REST API reported it leader on u > t;
 * - the run was asynchronous. In synchronous mode no acknowledged write may be lost, so every loss
 *   is unexplained — unless PostgreSQL itself warned that the commit was local only.
 * `lagMs` (default 5000) is the replication lag a healthy cluster may have when a fault hits,
 * with a wide margin: real lag is milliseconds, and an ack lost 15 s before a kill means the
 * replica that took over was not streaming — worth a look, so it is unexplained. `windowMs`
 * (default ttl × 1000 + 5000, ttl from run.dcs, 30 if unset) is how long after the heal an old
 * primary may go on acknowledging: the key's lifetime plus slack for the agent's loop. Each
 * explanation prints its gap. A switchover or a restart is a clean handover: a loss near one is
 * unexplained.
 *
 * Split brain: see split-brain.ts.
 *
 * Outage per fault: within the fault's interval [fault.start, next fault's start — or the end of
 * the workload for the last one), the longest stretch without an ack to a `multi` client,
 * measured between consecutive ack end times, starting at fault.start itself (not at the last ack
 * before it, so the normal spacing of writes before the fault does not count) and ending at the
 * interval's end if writes did not come back. Its resolution is the workload's write spacing.
 */
import { fmt, median } from '../table.ts';
import { LOCAL_ONLY } from './outcome.ts';
import { type Ack, epochsOf, type SplitBrain, splitBrain } from './split-brain.ts';
import type { FaultKind, FaultRecord, RunRecord } from './types.ts';

/** Faults on a node that can cost it the leadership without a clean handover. */
export const LEADER_LOSS_KINDS: ReadonlySet<FaultKind> = new Set<FaultKind>([
  'kill-agent',
  'kill-postmaster',
  'kill-node',
  'freeze-node',
  'partition-leader-etcd',
  'partition-leader-peers',
  'isolate-leader',
  'refusing-leader',
]);
/** Faults of the whole cluster that can cost any leader its key. */
export const CLUSTER_LOSS_KINDS: ReadonlySet<FaultKind> = new Set<FaultKind>(['etcd-majority-lost']);

export interface LostAck {
  id: number;
  client: string;
  node: string;
  timeline: number | null;
  /** When the client saw the ack (the attempt's end). */
  ackedAt: number;
  explained: boolean;
  /** The fault that explains it (its seq), and who took over. */
  fault: number | null;
  takeover: { node: string; timeline: number; at: number; via: 'ack' | 'role' } | null;
  /** One line for a person: "0.21 s before #17 kill-node pg1; pg2 acked on timeline 4 from 131.02 s", or "UNEXPLAINED: …". */
  line: string;
}

export interface FaultOutage {
  seq: number;
  kind: FaultKind;
  target: string | null;
  start: number;
  /** End of the interval the outage is looked for in. */
  until: number;
  outageMs: number;
  /** The longest stretch: from (fault.start or an ack's end) to (an ack's end, or `until`). */
  from: number;
  to: number;
  /** Some multi client got an ack after the fault began, within its interval. */
  resumed: boolean;
  settled: boolean;
}

export interface ClassOutage {
  kind: FaultKind;
  count: number;
  medianMs: number | null;
  maxMs: number | null;
  notSettled: number;
  notResumed: number;
}

type Counts = Record<'ok' | 'fail' | 'unknown', number>;

export interface ChaosReport {
  agent: RunRecord['agent'];
  seed: number;
  synchronous: boolean;
  commit: string;
  startedAt: string;
  durationMs: number;
  nodes: string[];
  plan: RunRecord['plan'];
  lagMs: number;
  windowMs: number;
  counts: {
    attempts: Record<'multi' | 'direct', Counts>;
    acksPerNode: Record<string, { multi: number; direct: number }>;
    acksWithoutTimeline: number;
  };
  final: { leader: string | null; at: number; read: number | null };
  /** null: no final read, loss cannot be judged. */
  lost: LostAck[] | null;
  /** Attempts recorded 'fail' whose id is in the final read: the workload's certainty was wrong. */
  failedButPresent: number[];
  unknown: { present: number; absent: number } | null;
  /** Ids in the final read that no attempt ever used. */
  neverAttempted: number[];
  splitBrain: SplitBrain;
  faults: FaultOutage[];
  classes: ClassOutage[];
  /** Ids the picture draws in red: unexplained losses, stale and diverged acks. */
  flaggedIds: number[];
  /** Safety problems; empty means the run passed. */
  problems: string[];
}

export interface AnalyseOptions {
  lagMs?: number;
  windowMs?: number;
}

export const DEFAULT_LAG_MS = 5000;

export function defaultWindowMs(run: RunRecord): number {
  const ttl = Number(run.dcs['ttl']);
  return (Number.isFinite(ttl) && ttl > 0 ? ttl : 30) * 1000 + 5000;
}

const s = (ms: number) => `${fmt(ms / 1000)} s`;
export const faultName = (f: Pick<FaultRecord, 'seq' | 'kind' | 'target'>) =>
  `#${f.seq} ${f.kind}${f.target ? ` ${f.target}` : ''}`;

// ---------------------------------------------------------------------------------------------
// Lost writes.

function explainLoss(a: Ack, run: RunRecord, acks: Ack[], lagMs: number, windowMs: number): LostAck {
  const base = {
    id: a.id,
    client: a.client,
    node: a.node,
    timeline: a.timeline ?? null,
    ackedAt: a.end,
    fault: null,
    takeover: null,
  };
  const where = `id ${a.id} (${a.client}) acked by ${a.node} on timeline ${a.timeline ?? '?'} at ${s(a.end)}`;
  const unexplained = (why: string): LostAck => ({
    ...base,
    explained: false,
    line: `${where}: UNEXPLAINED (${why})`,
  });
  if (a.error === LOCAL_ONLY) {
    return { ...base, explained: true, line: `${where}: PostgreSQL warned the commit was local only` };
  }
  if (run.synchronous) return unexplained('synchronous run: no acknowledged write may be lost');
  if (a.timeline === undefined) return unexplained('the ack has no timeline');
  const t = a.timeline;

  // The fault on X nearest the ack: one in progress first, else the first to begin after it, else
  // the last healed before it.
  const near = run.faults
    .filter((f) => (f.target === a.node && LEADER_LOSS_KINDS.has(f.kind)) || CLUSTER_LOSS_KINDS.has(f.kind))
    .map((f) => ({ f, healed: f.healed ?? f.start + f.holdMs }))
    .filter(({ f, healed }) => a.end >= f.start - lagMs && a.end <= healed + windowMs);
  const during = near.find(({ f, healed }) => f.start <= a.end && a.end <= healed);
  const after = near.filter(({ f }) => f.start > a.end).sort((x, y) => x.f.start - y.f.start)[0];
  const before = near.filter(({ healed }) => healed < a.end).sort((x, y) => y.healed - x.healed)[0];
  const pick = during ?? after ?? before;
  if (!pick)
    return unexplained(
      `no fault on ${a.node} began within ${s(lagMs)} after it or was healed within ${s(windowMs)} before it`,
    );
  const { f, healed } = pick;
  const how =
    pick === during
      ? `during ${faultName(f)} (began ${s(a.end - f.start)} earlier)`
      : pick === after
        ? `${s(f.start - a.end)} before ${faultName(f)}`
        : `${s(a.end - healed)} after ${faultName(f)} was healed`;

  // Evidence that another node took over on a higher timeline, not before the fault began.
  const from = Math.max(a.end, f.start);
  const byAck = acks.find((b) => b.node !== a.node && (b.timeline ?? 0) > t && b.end > from);
  const byRole = byAck
    ? undefined
    : run.roles
        .filter((r) => r.node !== a.node && r.role === 'leader' && (r.timeline ?? 0) > t && r.at > from)
        .sort((x, y) => x.at - y.at)[0];
  const takeover = byAck
    ? { node: byAck.node, timeline: byAck.timeline!, at: byAck.end, via: 'ack' as const }
    : byRole
      ? { node: byRole.node, timeline: byRole.timeline!, at: byRole.at, via: 'role' as const }
      : null;
  if (!takeover) return unexplained(`${how}, but no other node acked on a higher timeline afterwards`);
  const took =
    takeover.via === 'ack'
      ? `${takeover.node} acked on timeline ${takeover.timeline} from ${s(takeover.at)}`
      : `${takeover.node} was reported leader on timeline ${takeover.timeline} at ${s(takeover.at)}`;
  return { ...base, explained: true, fault: f.seq, takeover, line: `${where}: ${how}; ${took}` };
}

// ---------------------------------------------------------------------------------------------
// Outage.

/** First index in sorted `xs` whose value is > x. */
function upperBound(xs: number[], x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function outages(run: RunRecord, acks: Ack[]): FaultOutage[] {
  const ackEnds = acks
    .filter((a) => a.group === 'multi')
    .map((a) => a.end)
    .sort((x, y) => x - y);
  // The last interval ends when the workload stopped, not at the run's end: healing and the final
  // read come after the writes, and would count as outage.
  let lastEnd = 0;
  for (const a of run.attempts) lastEnd = Math.max(lastEnd, a.end);
  const workloadEnd = Math.min(run.durationMs, lastEnd);
  const faults = [...run.faults].sort((x, y) => x.start - y.start);
  return faults.map((f, i) => {
    const until = Math.max(f.start, Math.min(faults[i + 1]?.start ?? Number.POSITIVE_INFINITY, workloadEnd));
    let prev = f.start;
    let best = { from: f.start, to: f.start };
    let resumed = false;
    for (let k = upperBound(ackEnds, f.start); k < ackEnds.length && ackEnds[k]! <= until; k++) {
      resumed = true;
      if (ackEnds[k]! - prev > best.to - best.from) best = { from: prev, to: ackEnds[k]! };
      prev = ackEnds[k]!;
    }
    if (until - prev > best.to - best.from) best = { from: prev, to: until };
    return {
      seq: f.seq,
      kind: f.kind,
      target: f.target,
      start: f.start,
      until,
      outageMs: best.to - best.from,
      ...best,
      resumed,
      settled: f.settled !== null,
    };
  });
}

function byClass(faults: FaultOutage[]): ClassOutage[] {
  const kinds = [...new Set(faults.map((f) => f.kind))].sort();
  return kinds.map((kind) => {
    const of = faults.filter((f) => f.kind === kind);
    const ms = of.map((f) => f.outageMs);
    return {
      kind,
      count: of.length,
      medianMs: median(ms),
      maxMs: ms.length ? Math.max(...ms) : null,
      notSettled: of.filter((f) => !f.settled).length,
      notResumed: of.filter((f) => !f.resumed).length,
    };
  });
}

// ---------------------------------------------------------------------------------------------

export function analyse(run: RunRecord, opts: AnalyseOptions = {}): ChaosReport {
  const lagMs = opts.lagMs ?? DEFAULT_LAG_MS;
  const windowMs = opts.windowMs ?? defaultWindowMs(run);
  const acks = run.attempts
    .filter((a): a is Ack => a.outcome === 'ok' && a.node !== null)
    .sort((x, y) => x.end - y.end);

  const counts: ChaosReport['counts'] = {
    attempts: { multi: { ok: 0, fail: 0, unknown: 0 }, direct: { ok: 0, fail: 0, unknown: 0 } },
    acksPerNode: Object.fromEntries(run.nodes.map((n) => [n, { multi: 0, direct: 0 }])),
    acksWithoutTimeline: 0,
  };
  for (const a of run.attempts) counts.attempts[a.group][a.outcome]++;
  for (const a of acks) {
    counts.acksPerNode[a.node] ??= { multi: 0, direct: 0 };
    counts.acksPerNode[a.node]![a.group]++;
    if (a.timeline === undefined) counts.acksWithoutTimeline++;
  }

  const problems: string[] = [];
  const finalIds = run.final.ids ? new Set(run.final.ids) : null;
  let lost: LostAck[] | null = null;
  let unknown: ChaosReport['unknown'] = null;
  const failedButPresent: number[] = [];
  const neverAttempted: number[] = [];
  if (finalIds) {
    lost = acks.filter((a) => !finalIds.has(a.id)).map((a) => explainLoss(a, run, acks, lagMs, windowMs));
    unknown = { present: 0, absent: 0 };
    const attempted = new Set<number>();
    for (const a of run.attempts) {
      attempted.add(a.id);
      if (a.outcome === 'unknown') unknown[finalIds.has(a.id) ? 'present' : 'absent']++;
      if (a.outcome === 'fail' && finalIds.has(a.id)) failedButPresent.push(a.id);
    }
    for (const id of finalIds) if (!attempted.has(id)) neverAttempted.push(id);
    const bad = lost.filter((l) => !l.explained).length;
    if (bad) problems.push(`${bad} unexplained lost write(s)`);
    if (failedButPresent.length)
      problems.push(`${failedButPresent.length} write(s) recorded as failed are present`);
    if (neverAttempted.length) problems.push(`${neverAttempted.length} id(s) present that no client wrote`);
  } else {
    problems.push('no final read: loss not judged');
  }

  const epochs = epochsOf(acks);
  const { flagged, ...split } = splitBrain(acks, epochs);
  if (split.stale.length) {
    problems.push(
      `split brain: ${split.stale.reduce((n, g) => n + g.ids.length, 0)} ack(s) on a stale timeline`,
    );
  }
  if (split.sameTimeline.length) {
    problems.push(`diverged timelines: ${split.sameTimeline.map((x) => x.timeline).join(', ')}`);
  }
  // A cluster that never settled after a fault is a failure too, if not a safety one.
  const unsettled = run.faults.filter((f) => f.settled === null).map((f) => `#${f.seq}`);
  if (unsettled.length) problems.push(`${unsettled.length} fault(s) did not settle: ${unsettled.join(', ')}`);

  const faults = outages(run, acks);
  const flaggedIds = new Set([...flagged, ...(lost ?? []).filter((l) => !l.explained).map((l) => l.id)]);
  return {
    agent: run.agent,
    seed: run.seed,
    synchronous: run.synchronous,
    commit: run.commit,
    startedAt: run.startedAt,
    durationMs: run.durationMs,
    nodes: run.nodes,
    plan: run.plan,
    lagMs,
    windowMs,
    counts,
    final: { leader: run.final.leader, at: run.final.at, read: run.final.ids?.length ?? null },
    lost,
    failedButPresent,
    unknown,
    neverAttempted,
    splitBrain: split,
    faults,
    classes: byClass(faults),
    flaggedIds: [...flaggedIds].sort((x, y) => x - y),
    problems,
  };
}
