/**
 * Fault schedules for the seeded runner: what a seed generates (faults and operator requests,
 * step by step, independent of how the cluster reacts), and the one-line text form that
 * `pgwarden sim --schedule` replays and a shrunk failure prints.
 */

import { FAILING_OPERATIONS, type FailingOperation } from './cluster/index.ts';
import { seededRandom } from './random.ts';

/** Simulated PostgreSQL operations a `slow` fault can stretch. */
export const SLOW_OPERATIONS = ['promote', 'stop', 'start', 'basebackup', 'rewind'] as const;
export type SlowOperation = (typeof SLOW_OPERATIONS)[number];

export type ScheduleAction =
  | {
      step: number;
      kind:
        | 'kill'
        | 'kill-agent'
        | 'restart'
        | 'crash-postgres'
        | 'freeze'
        | 'thaw'
        | 'dcs-cut'
        | 'dcs-reconnect'
        | 'shutdown'
        | 'reload';
      node: string;
    }
  | { step: number; kind: 'dcs-down' | 'dcs-up' }
  | { step: number; kind: 'partition' | 'heal'; a: string; b: string }
  /** `node` stays alive but refuses connections from `from` (every peer when null); `accept` ends it. */
  | { step: number; kind: 'reject'; node: string; from: string | null }
  | { step: number; kind: 'accept'; node: string }
  | { step: number; kind: 'dcs-latency'; ms: number }
  /**
   * `percent` % of the node's etcd calls fail (half before etcd applied them, half after: the
   * answer lost), as many watch deliveries break the watch, each call waits up to `latencyMs`
   * more; 0 and 0 end it.
   */
  | { step: number; kind: 'dcs-flaky'; node: string; percent: number; latencyMs: number }
  | { step: number; kind: 'slow'; node: string; op: SlowOperation; ms: number }
  /** The node's next call of a PostgreSQL operation fails (pg_ctl start fails, initdb out of disk). */
  | { step: number; kind: 'fail'; node: string; op: FailingOperation }
  /** Clock rate of one agent in parts per million (+ runs fast, − slow; 0 = exact). */
  | { step: number; kind: 'drift'; node: string; ppm: number }
  /**
   * The agent's wall clock jumps by `ms` (an NTP step, a VM resumed): + forward, − back, `afterMs`
   * into the step (a step lands anywhere, in the middle of a lease refresh too).
   */
  | { step: number; kind: 'clock-step'; node: string; ms: number; afterMs: number }
  /** Operator requests, sent to the REST API of `via` (leader read from the DCS when sent). */
  | { step: number; kind: 'switchover'; via: string; candidate: string | null; inS: number | null }
  | { step: number; kind: 'failover'; via: string; candidate: string }
  | { step: number; kind: 'pause' | 'resume'; via: string }
  | { step: number; kind: 'restart-postgres'; node: string; inS: number | null }
  | { step: number; kind: 'reinitialize'; node: string; force: boolean }
  /** PATCH /config of the lease timing, sent to `via` (any node, the leader included). */
  | { step: number; kind: 'patch-config'; via: string; ttl: number; loopWait: number; retryTimeout: number };

export type ActionKind = ScheduleAction['kind'];

type FieldType = 'node' | 'node?' | 'int' | 'int?' | 'bool' | 'op' | 'failop';

const FAIL_OPERATIONS = Object.keys(FAILING_OPERATIONS) as FailingOperation[];

/** Each kind's fields in text order: the single description of the text form. */
const FIELDS: Record<ActionKind, Array<[string, FieldType]>> = {
  kill: [['node', 'node']],
  'kill-agent': [['node', 'node']],
  restart: [['node', 'node']],
  'crash-postgres': [['node', 'node']],
  freeze: [['node', 'node']],
  thaw: [['node', 'node']],
  'dcs-cut': [['node', 'node']],
  'dcs-reconnect': [['node', 'node']],
  shutdown: [['node', 'node']],
  reload: [['node', 'node']],
  'dcs-down': [],
  'dcs-up': [],
  partition: [
    ['a', 'node'],
    ['b', 'node'],
  ],
  heal: [
    ['a', 'node'],
    ['b', 'node'],
  ],
  reject: [
    ['node', 'node'],
    ['from', 'node?'],
  ],
  accept: [['node', 'node']],
  'dcs-latency': [['ms', 'int']],
  'dcs-flaky': [
    ['node', 'node'],
    ['percent', 'int'],
    ['latencyMs', 'int'],
  ],
  slow: [
    ['node', 'node'],
    ['op', 'op'],
    ['ms', 'int'],
  ],
  fail: [
    ['node', 'node'],
    ['op', 'failop'],
  ],
  drift: [
    ['node', 'node'],
    ['ppm', 'int'],
  ],
  'clock-step': [
    ['node', 'node'],
    ['ms', 'int'],
    ['afterMs', 'int'],
  ],
  switchover: [
    ['via', 'node'],
    ['candidate', 'node?'],
    ['inS', 'int?'],
  ],
  failover: [
    ['via', 'node'],
    ['candidate', 'node'],
  ],
  pause: [['via', 'node']],
  resume: [['via', 'node']],
  'restart-postgres': [
    ['node', 'node'],
    ['inS', 'int?'],
  ],
  reinitialize: [
    ['node', 'node'],
    ['force', 'bool'],
  ],
  'patch-config': [
    ['via', 'node'],
    ['ttl', 'int'],
    ['loopWait', 'int'],
    ['retryTimeout', 'int'],
  ],
};

/** Operator requests (the rest are faults). */
export const OPERATOR_KINDS: ReadonlySet<ActionKind> = new Set([
  'switchover',
  'failover',
  'pause',
  'resume',
  'restart-postgres',
  'reinitialize',
  'reload',
  'shutdown',
  'patch-config',
]);

/** Largest |drift| a schedule uses: 0.5 %, far beyond real quartz (tens of ppm). */
export const MAX_DRIFT_PPM = 5000;

function fieldsOf(a: ScheduleAction): unknown[] {
  const rec = a as unknown as Record<string, unknown>;
  return FIELDS[a.kind].map(([name]) => rec[name]);
}

/** `12:switchover:node1:node2:-` — step, kind, then the kind's fields ('-' for none). */
export function formatAction(a: ScheduleAction): string {
  const parts = fieldsOf(a).map((v) => (v === null ? '-' : String(v)));
  return [String(a.step), a.kind, ...parts].join(':');
}

export function formatSchedule(schedule: ScheduleAction[]): string {
  return schedule.map(formatAction).join(',');
}

/** Human form for failure reports: `step 12: switchover via node1 candidate node2`. */
export function describeAction(a: ScheduleAction): string {
  const rec = a as unknown as Record<string, unknown>;
  const parts = FIELDS[a.kind]
    .filter(([name]) => rec[name] !== null)
    .map(([name, type]) =>
      type === 'node' && (name === 'node' || name === 'a' || name === 'b')
        ? String(rec[name])
        : `${name} ${rec[name]}`,
    );
  return `step ${a.step}: ${[a.kind, ...parts].join(' ')}`;
}

export class ScheduleSyntaxError extends Error {}

/**
 * Parses the text form back (what `--schedule` takes). Node names must be among `names`;
 * anything else is a ScheduleSyntaxError naming the offending entry.
 */
export function parseSchedule(text: string, names: string[]): ScheduleAction[] {
  const out: ScheduleAction[] = [];
  const entries = text
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  for (const entry of entries) {
    const [stepText, kind, ...values] = entry.split(':');
    const bad = (why: string) => new ScheduleSyntaxError(`schedule entry "${entry}": ${why}`);
    const step = Number(stepText);
    if (!Number.isInteger(step) || step < 0) throw bad('the step must be an integer ≥ 0');
    if (!kind || !Object.hasOwn(FIELDS, kind)) throw bad(`unknown action "${kind ?? ''}"`);
    const fields = FIELDS[kind as ActionKind];
    if (values.length !== fields.length) {
      throw bad(`${kind} takes ${fields.length} field(s): ${fields.map(([n]) => n).join(', ') || 'none'}`);
    }
    const action: Record<string, unknown> = { step, kind };
    fields.forEach(([name, type], i) => {
      const v = values[i]!;
      if (type.endsWith('?') && v === '-') {
        action[name] = null;
        return;
      }
      switch (type) {
        case 'node':
        case 'node?':
          if (!names.includes(v)) throw bad(`${name} "${v}" is not one of ${names.join(', ')}`);
          action[name] = v;
          break;
        case 'int':
        case 'int?': {
          const n = Number(v);
          if (!Number.isInteger(n)) throw bad(`${name} must be an integer`);
          action[name] = n;
          break;
        }
        case 'bool':
          if (v !== 'true' && v !== 'false') throw bad(`${name} must be true or false`);
          action[name] = v === 'true';
          break;
        case 'op':
        case 'failop': {
          const allowed: readonly string[] = type === 'op' ? SLOW_OPERATIONS : FAIL_OPERATIONS;
          if (!allowed.includes(v)) throw bad(`op must be one of ${allowed.join(', ')}`);
          action[name] = v;
          break;
        }
      }
    });
    if (kind === 'dcs-flaky' && ((action['percent'] as number) < 0 || (action['percent'] as number) > 100)) {
      throw bad('percent must be within 0..100');
    }
    if (kind === 'dcs-flaky' && (action['latencyMs'] as number) < 0) throw bad('latencyMs must be ≥ 0');
    if (kind === 'drift' && Math.abs(action['ppm'] as number) > MAX_DRIFT_PPM) {
      throw bad(`ppm must be within ±${MAX_DRIFT_PPM}`);
    }
    out.push(action as unknown as ScheduleAction);
  }
  for (let i = 1; i < out.length; i++) {
    if (out[i]!.step < out[i - 1]!.step)
      throw new ScheduleSyntaxError('schedule entries must be in step order');
  }
  return out;
}

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
        () => ({ step, kind: 'slow', node: pick(names), op: pick(SLOW_OPERATIONS), ms: int(1, 30) * 1000 }),
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
  return out;
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
