/**
 * Fault schedules for the seeded runner: what a schedule is made of (actions.ts), what a seed
 * generates (generate.ts), and the one-line text form that `pgwarden sim --schedule` replays and
 * a shrunk failure prints (text.ts).
 */
export {
  type ActionKind,
  FAIL_OPERATIONS,
  MAX_DRIFT_PPM,
  OPERATOR_KINDS,
  type ScheduleAction,
  SLOW_OPERATIONS,
  type SlowOperation,
} from './actions.ts';
export { generateSchedule } from './generate.ts';
export { describeAction, formatAction, formatSchedule, parseSchedule, ScheduleSyntaxError } from './text.ts';
