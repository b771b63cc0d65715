/**
 * A made-up chaos run, shaped like a real one (three nodes, a leader per epoch, faults that cost
 * the leader its role, clients pinned and multi-host, role samples every second), for the
 * picture's test and for looking at the picture without a cluster. Deterministic for a seed.
 *
 * With `plant`, it carries one of each thing the checker must report: an old leader acknowledging
 * after the new one did (split brain), an explained lost ack just before a kill, and an
 * unexplained one.
 */

import type { Attempt, FaultKind, FaultRecord, RoleSample, RunRecord } from '../../bench/lib/chaos/types.ts';
import { seededRandom } from '../../src/testing/random.ts';

interface Epoch {
  node: string;
  timeline: number;
  from: number;
  to: number;
}

const LOSING: FaultKind[] = ['kill-node', 'kill-postmaster', 'freeze-node', 'isolate-leader', 'kill-agent'];
const HARMLESS: FaultKind[] = ['isolate-replica', 'kill-etcd-member', 'patch-config'];

export function syntheticRun(opts: {
  durationS: number;
  faults: number;
  seed?: number;
  writeEveryMs?: number;
  plant?: boolean;
}): RunRecord {
  const rand = seededRandom(opts.seed ?? 7);
  const nodes = ['pg1', 'pg2', 'pg3'];
  const durationMs = opts.durationS * 1000;
  const every = opts.writeEveryMs ?? 50;
  const epochs: Epoch[] = [{ node: 'pg1', timeline: 1, from: 0, to: durationMs }];
  const down: Array<{ node: string; from: number; to: number }> = [];
  const faults: FaultRecord[] = [];
  const spacing = durationMs / (opts.faults + 1);

  for (let i = 0; i < opts.faults; i++) {
    const start = Math.round(spacing * (i + 1) + rand() * spacing * 0.2);
    const cur = epochs.at(-1)!;
    const roll = rand();
    const kind: FaultKind =
      roll < 0.6
        ? LOSING[Math.floor(rand() * LOSING.length)]!
        : roll < 0.75
          ? 'switchover'
          : HARMLESS[Math.floor(rand() * HARMLESS.length)]!;
    const holdMs = Math.round(5000 + rand() * 10_000);
    const others = nodes.filter((n) => n !== cur.node);
    const next = others[Math.floor(rand() * others.length)]!;
    let target: string | null = others[0]!;
    let healed: number | null = start + holdMs;
    let settled: number | null = start + holdMs + 2000 + rand() * 3000;
    if (LOSING.includes(kind) || kind === 'switchover') {
      target = cur.node;
      // An isolated leader goes on acknowledging until it demotes itself.
      const oldEnd = kind === 'isolate-leader' ? start + 6000 : kind === 'switchover' ? start + 400 : start;
      const gap = kind === 'switchover' ? 1500 : 6000 + rand() * 8000;
      cur.to = oldEnd;
      epochs.push({ node: next, timeline: cur.timeline + 1, from: start + gap, to: durationMs });
      if (kind === 'switchover') healed = null;
      else if (kind !== 'isolate-leader') down.push({ node: cur.node, from: start, to: start + holdMs });
    }
    if (i === opts.faults - 2) settled = null; // one fault that never settles
    faults.push({
      seq: i + 1,
      kind,
      target,
      targetRole: target === cur.node ? 'leader' : 'replica',
      holdMs,
      start,
      healed,
      settled,
      notes: {},
    });
  }

  const isDown = (node: string, t: number) => down.some((d) => d.node === node && d.from <= t && t < d.to);
  const writable = (t: number) => epochs.filter((e) => e.from <= t && t < e.to);
  const attempts: Attempt[] = [];
  let id = 1;
  const clients = [
    ...['multi-1', 'multi-2'].map((c) => ({ name: c, group: 'multi' as const, node: null as string | null })),
    ...nodes.map((n) => ({ name: `direct-${n}`, group: 'direct' as const, node: n as string | null })),
  ];
  for (let t = 0; t < durationMs - 1000; t += every) {
    for (const [k, c] of clients.entries()) {
      const start = t + k * 7;
      const end = start + 2 + rand() * 4;
      const on = writable(start);
      const base = { id: id++, client: c.name, group: c.group, start, end };
      const e = c.node ? on.find((x) => x.node === c.node) : on.at(-1);
      if (e) attempts.push({ ...base, node: e.node, outcome: 'ok', timeline: e.timeline });
      else if (c.node && !isDown(c.node, start))
        attempts.push({ ...base, node: c.node, outcome: 'fail', error: '25006' });
      else attempts.push({ ...base, node: null, outcome: 'fail', error: 'no writable node' });
    }
  }

  const roles: RoleSample[] = [];
  for (let t = 0; t < durationMs; t += 1000) {
    for (const node of nodes) {
      const e = writable(t).find((x) => x.node === node);
      if (e) roles.push({ at: t, node, role: 'leader', timeline: e.timeline });
      else roles.push({ at: t, node, role: isDown(node, t) ? 'down' : 'replica' });
    }
  }

  const acked = attempts.filter((a) => a.outcome === 'ok');
  const drop = new Set<number>();
  if (opts.plant) {
    const kill =
      faults.find((f) => f.kind === 'isolate-leader') ?? faults.find((f) => LOSING.includes(f.kind));
    const victim = kill && acked.filter((a) => a.node === kill.target && a.end < kill.start).at(-1);
    if (victim) drop.add(victim.id); // explained: just before a leader-losing fault on its node
    drop.add(acked[Math.floor(acked.length / 10)]!.id); // unexplained: in quiet times
    const newer = kill && acked.find((a) => a.node !== kill.target && a.start > kill.start);
    if (kill && newer) {
      const tl = acked.find((a) => a.node === kill.target && a.end < kill.start)?.timeline ?? 1;
      const t = newer.end + 500;
      attempts.push({
        id: id++,
        client: `direct-${kill.target}`,
        group: 'direct',
        node: kill.target,
        start: t,
        end: t + 3,
        outcome: 'ok',
        timeline: tl,
      });
    }
  }
  const last = epochs.at(-1)!;
  return {
    agent: 'pgwarden',
    seed: opts.seed ?? 7,
    synchronous: false,
    dcs: { ttl: 30, loop_wait: 10, retry_timeout: 10 },
    nodes,
    plan: faults.map((f) => ({ kind: f.kind, holdMs: f.holdMs, pick: 0 })),
    faults,
    attempts,
    roles,
    final: {
      leader: last.node,
      ids: attempts.filter((a) => a.outcome === 'ok' && !drop.has(a.id)).map((a) => a.id),
      at: durationMs - 200,
    },
    startedAt: '2026-12-03T19:00:00.000Z',
    commit: 'c3171b3',
    durationMs,
  };
}
