/**
 * What a seed generates: faults and operator requests, step by step, independent of how the
 * cluster reacts (so that a seed names a schedule and a shrunk failure can be replayed). The
 * generator tracks only what it did itself, so that its actions make sense (a thaw follows a
 * freeze, a heal a partition); every draw comes from the seed, in a fixed order.
 */
import { seededRandom } from '../random.ts';
import { FAIL_OPERATIONS, MAX_DRIFT_PPM, type ScheduleAction, SLOW_LONG_OPERATIONS } from './actions.ts';

/** What the generator tracks so that its actions make sense (a thaw follows a freeze, ...). */
interface GeneratorState {
  dead: Set<string>;
  frozen: Set<string>;
  cutFromDcs: Set<string>;
  cuts: Set<string>;
  rejecting: Set<string>;
  flaky: Set<string>;
  dcsDown: boolean;
  slowDcs: boolean;
  paused: boolean;
}

/**
 * The schedule a seed generates: faults and operator requests at about one step in three. One
 * seed in five is calm: only requests that must never move leadership (configuration changes,
 * reloads, restarts, pause and resume, switchovers and restarts scheduled far ahead), so that
 * an unasked leadership change has nothing to hide behind.
 */
export function generateSchedule(seed: number, nodes: number, steps: number): ScheduleAction[] {
  const random = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  const names = Array.from({ length: nodes }, (_, i) => `node${i + 1}`);
  const calm = random() < 0.2;
  // When a scheduled request is due: mostly within the run, sometimes days to a year ahead (past
  // Node's 24.8-day timer limit too), which must stay scheduled for the whole run.
  const scheduledIn = () => (random() < 0.7 ? int(5, 60) : int(1, 365) * 86_400);
  const farAhead = () => int(1, 365) * 86_400;
  // NTP steps and VM resumes: a second to a few minutes, either way.
  const clockStep = () => (random() < 0.5 ? -1 : 1) * int(1, 180) * 1000;
  // Lease timing as Patroni accepts it: loop_wait + 2 × retry_timeout ≤ ttl.
  const patchConfig = (step: number, via: string): ScheduleAction => {
    const ttl = int(10, 60);
    const loopWait = int(1, Math.min(10, Math.floor(ttl / 3)));
    const retryTimeout = int(1, Math.min(10, Math.floor((ttl - loopWait) / 2)));
    return { step, kind: 'patch-config', via, ttl, loopWait, retryTimeout };
  };
  const s: GeneratorState = {
    dead: new Set(),
    frozen: new Set(),
    cutFromDcs: new Set(),
    cuts: new Set(),
    rejecting: new Set(),
    flaky: new Set(),
    dcsDown: false,
    slowDcs: false,
    paused: false,
  };
  const out: ScheduleAction[] = [];
  for (let step = 0; step < steps; step++) {
    if (random() >= 0.35) continue;
    const running = names.filter((n) => !s.dead.has(n) && !s.frozen.has(n));
    const others = (n: string) => names.filter((x) => x !== n);
    const choices: Array<[number, () => ScheduleAction | ScheduleAction[]]> = [];
    if (calm) {
      choices.push([3, () => patchConfig(step, pick(names))]);
      choices.push([1, () => ({ step, kind: 'reload', node: pick(names) })]);
      choices.push([2, () => ({ step, kind: 'restart-postgres', node: pick(names), inS: null })]);
      choices.push([1, () => ({ step, kind: 'restart-postgres', node: pick(names), inS: farAhead() })]);
      choices.push([
        1,
        () => ({ step, kind: 'switchover', via: pick(names), candidate: pick(names), inS: farAhead() }),
      ]);
      choices.push(
        s.paused
          ? [1.5, () => ({ step, kind: 'resume', via: pick(names) })]
          : [0.5, () => ({ step, kind: 'pause', via: pick(names) })],
      );
      choices.push([
        0.5,
        () => ({ step, kind: 'drift', node: pick(names), ppm: int(-MAX_DRIFT_PPM, MAX_DRIFT_PPM) }),
      ]);
      choices.push([
        0.5,
        () => ({ step, kind: 'clock-step', node: pick(names), ms: clockStep(), afterMs: int(0, 4999) }),
      ]);
    } else if (running.length > 0) {
      choices.push([0.7, () => patchConfig(step, pick(running))]);
      choices.push([2, () => ({ step, kind: 'kill', node: pick(running) })]);
      // kill -9 of the agent alone: its PostgreSQL keeps running (and the primary writable).
      choices.push([1, () => ({ step, kind: 'kill-agent', node: pick(running) })]);
      choices.push([2, () => ({ step, kind: 'crash-postgres', node: pick(running) })]);
      choices.push([2, () => ({ step, kind: 'freeze', node: pick(running) })]);
      choices.push([1, () => ({ step, kind: 'dcs-cut', node: pick(running) })]);
      choices.push([0.5, () => ({ step, kind: 'shutdown', node: pick(running) })]);
      choices.push([
        0.5,
        () => ({
          step,
          kind: 'slow',
          node: pick(names),
          op: pick(SLOW_LONG_OPERATIONS),
          ms: int(1, 30) * 1000,
        }),
      ]);
      choices.push([
        0.5,
        () => ({ step, kind: 'drift', node: pick(names), ppm: int(-MAX_DRIFT_PPM, MAX_DRIFT_PPM) }),
      ]);
      choices.push([
        0.5,
        () => ({ step, kind: 'clock-step', node: pick(names), ms: clockStep(), afterMs: int(0, 4999) }),
      ]);
      choices.push([1, () => ({ step, kind: 'fail', node: pick(names), op: pick(FAIL_OPERATIONS) })]);
      // Operator requests: what patronictl sends, to a node's REST API.
      choices.push([
        1.5,
        () => {
          const candidate = random() < 0.7 ? pick(names) : null;
          const inS = random() < 0.25 ? scheduledIn() : null;
          return { step, kind: 'switchover', via: pick(running), candidate, inS };
        },
      ]);
      choices.push([0.5, () => ({ step, kind: 'failover', via: pick(running), candidate: pick(names) })]);
      choices.push([
        0.5,
        () => ({
          step,
          kind: 'restart-postgres',
          node: pick(running),
          inS: random() < 0.3 ? scheduledIn() : null,
        }),
      ]);
      choices.push([0.5, () => ({ step, kind: 'reinitialize', node: pick(running), force: random() < 0.5 })]);
      choices.push([0.3, () => ({ step, kind: 'reload', node: pick(running) })]);
      choices.push(
        s.paused
          ? [1.5, () => ({ step, kind: 'resume', via: pick(running) })]
          : [0.4, () => ({ step, kind: 'pause', via: pick(running) })],
      );
    }
    if (!calm) {
      if (s.dead.size > 0) choices.push([4, () => ({ step, kind: 'restart', node: pick([...s.dead]) })]);
      if (s.frozen.size > 0) choices.push([4, () => ({ step, kind: 'thaw', node: pick([...s.frozen]) })]);
      if (running.length > 0) {
        choices.push([
          1,
          (): ScheduleAction | ScheduleAction[] => {
            const node = pick(running);
            const from = random() < 0.5 ? null : pick(others(node));
            // A host refusing everything, etcd included, some of the time.
            if (from === null && random() < 0.4) {
              return [
                { step, kind: 'reject', node, from },
                { step, kind: 'dcs-cut', node },
              ];
            }
            return { step, kind: 'reject', node, from };
          },
        ]);
      }
      if (s.rejecting.size > 0)
        choices.push([3, () => ({ step, kind: 'accept', node: pick([...s.rejecting]) })]);
      if (s.cutFromDcs.size > 0) {
        choices.push([3, () => ({ step, kind: 'dcs-reconnect', node: pick([...s.cutFromDcs]) })]);
      }
      // A flaky etcd for one node: errors on a share of its calls (before or after etcd applied
      // them), broken watches, extra latency.
      choices.push([
        1.5,
        () => ({
          step,
          kind: 'dcs-flaky',
          node: pick(names),
          percent: pick([5, 10, 20, 30, 50, 80]),
          latencyMs: random() < 0.5 ? 0 : int(1, 30) * 100,
        }),
      ]);
      if (s.flaky.size > 0) {
        choices.push([
          2,
          () => ({ step, kind: 'dcs-flaky', node: pick([...s.flaky].sort()), percent: 0, latencyMs: 0 }),
        ]);
      }
      choices.push(
        s.dcsDown ? [4, () => ({ step, kind: 'dcs-up' })] : [1, () => ({ step, kind: 'dcs-down' })],
      );
      choices.push(
        s.slowDcs
          ? [2, () => ({ step, kind: 'dcs-latency', ms: 0 })]
          : [0.5, () => ({ step, kind: 'dcs-latency', ms: int(1, 40) * 50 })],
      );
      if (nodes >= 2) {
        choices.push([
          2,
          () => {
            const a = pick(names);
            return { step, kind: 'partition', a, b: pick(others(a)) };
          },
        ]);
      }
      if (s.cuts.size > 0) {
        choices.push([
          3,
          () => {
            const [a, b] = pick([...s.cuts].sort()).split('|') as [string, string];
            return { step, kind: 'heal', a, b };
          },
        ]);
      }
    }
    let r = random() * choices.reduce((sum, [w]) => sum + w, 0);
    let make = choices[0]![1];
    for (const [w, m] of choices) {
      if (r < w) {
        make = m;
        break;
      }
      r -= w;
    }
    for (const action of [make()].flat()) {
      track(s, action);
      out.push(action);
    }
  }
  return calm ? out : withSlowSessions(out, seed, names, steps);
}

/**
 * A server slow to open sessions from other hosts, on either side of the fence's waits (0.4 s
 * before a promotion, 2 s at rest), or back to normal: at about one step in a hundred, drawn from
 * a stream of its own so that adding this fault left every other draw of every seed as it was
 * (the CI budget's seeds, and the regressions kept as seeds, still play what they did).
 */
function withSlowSessions(
  out: ScheduleAction[],
  seed: number,
  names: readonly string[],
  steps: number,
): ScheduleAction[] {
  const random = seededRandom(seed + 0x5e5510);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const merged: ScheduleAction[] = [];
  let i = 0;
  for (let step = 0; step < steps; step++) {
    while (i < out.length && out[i]!.step === step) merged.push(out[i++]!);
    if (random() < 0.01)
      merged.push({ step, kind: 'slow', node: pick(names), op: 'session', ms: pick([5, 300, 1200, 3000]) });
  }
  return [...merged, ...out.slice(i)];
}

function track(s: GeneratorState, a: ScheduleAction): void {
  switch (a.kind) {
    case 'kill':
    case 'kill-agent':
    case 'shutdown':
      s.dead.add(a.node);
      break;
    case 'restart':
      s.dead.delete(a.node);
      s.frozen.delete(a.node);
      break;
    case 'freeze':
      s.frozen.add(a.node);
      break;
    case 'thaw':
      s.frozen.delete(a.node);
      break;
    case 'dcs-cut':
      s.cutFromDcs.add(a.node);
      break;
    case 'dcs-reconnect':
      s.cutFromDcs.delete(a.node);
      break;
    case 'dcs-down':
      s.dcsDown = true;
      break;
    case 'dcs-up':
      s.dcsDown = false;
      break;
    case 'dcs-latency':
      s.slowDcs = a.ms > 0;
      break;
    case 'dcs-flaky':
      if (a.percent > 0 || a.latencyMs > 0) s.flaky.add(a.node);
      else s.flaky.delete(a.node);
      break;
    case 'partition':
      s.cuts.add([a.a, a.b].sort().join('|'));
      break;
    case 'heal':
      s.cuts.delete([a.a, a.b].sort().join('|'));
      break;
    case 'reject':
      s.rejecting.add(a.node);
      break;
    case 'accept':
      s.rejecting.delete(a.node);
      break;
    case 'pause':
      s.paused = true;
      break;
    case 'resume':
      s.paused = false;
      break;
    default:
      break;
  }
}
