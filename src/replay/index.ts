/** Replaying decision journals: `pgwarden replay`, `--at`, `--timeline` (see replay.ts). */
export { type ActorAt, formatStatesAt, parseTime, statesAt } from './at.ts';
export { type AgentRun, agentRuns, JournalError, loadJournalFiles } from './journals.ts';
export { machineForActor } from './machines.ts';
export {
  type Divergence,
  type ReplayOptions,
  ReplayRefused,
  type ReplayReport,
  replayRuns,
} from './replay.ts';
export { formatDivergence, formatSummary } from './report-text.ts';
export { stateText } from './state-text.ts';
export { formatTimeline, ROUTINE_ACTORS, type TimelineLine, timeline } from './timeline.ts';
