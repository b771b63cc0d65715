/**
 * The one-line text form of a schedule, which `pgwarden sim --schedule` replays and a shrunk
 * failure prints, and the human form failure reports use. One table of each action's fields
 * (FIELDS) describes both, so the formatter and the parser cannot drift apart.
 */
import {
  type ActionKind,
  FAIL_OPERATIONS,
  MAX_DRIFT_PPM,
  type ScheduleAction,
  SLOW_OPERATIONS,
} from './actions.ts';

type FieldType = 'node' | 'node?' | 'int' | 'int?' | 'bool' | 'op' | 'failop';

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
