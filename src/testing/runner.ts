/**
 * The seeded runner: a fault schedule plus a client workload, generated from one seed, played on
 * a simulated cluster of production Agents, with invariants checked at every tick and step.
 * `pgwarden sim` (src/cli/sim-command.ts) and test/unit/sim-runner.test.ts drive it.
 */

import { pausedIn } from '../config/dynamic.ts';
import { LeadershipCauses } from './causes.ts';
import { AnyNodeClient, type ClientOutcome, type ClientWrite, clientTally } from './clients.ts';
import {
  createSimulatedCluster,
  type RestMethod,
  type SimulatedCluster,
  type SimulatedClusterOptions,
} from './cluster/index.ts';
import type { StateCoverage } from './coverage.ts';
import {
  clusterNotHealed,
  INVARIANT_TICK_MS,
  type Invariant,
  type InvariantContext,
  leaderAfterHeal,
  orphanWritable,
  stepInvariants,
  tickInvariants,
  unfencedWindows,
} from './invariants/index.ts';
import {
  describeAction,
  formatSchedule,
  generateSchedule,
  OPERATOR_KINDS,
  type ScheduleAction,
  type SlowOperation,
} from './schedule/index.ts';
import type { Commit, SimulatedDurations } from './simulated-postgres/index.ts';

export interface RunOptions {
  seed: number;
  nodes?: number;
  steps?: number;
  /** Virtual ms per step (default 5000). */
  stepMs?: number;
  synchronousMode?: boolean;
  /** Dynamic check_timeline; unset: the default (on). Regressions found before it was on use false. */
  checkTimeline?: boolean;
  ttl?: number;
  /**
   * After healing, require that the cluster heals whole: every member streaming on the leader's
   * timeline (clusterNotHealed), not only a writable leader. On by default; false only for runs
   * that look at something else.
   */
  checkHeal?: boolean;
  /** More checks, run after every step (tests use this to prove the harness can fail). */
  extraInvariants?: Invariant[];
  /** Collects which machine states the run visits (shared across runs to cover a budget). */
  coverage?: Pick<StateCoverage, 'inspect'>;
  /** Play this schedule instead of the one the seed generates (replays, shrinking). */
  schedule?: ScheduleAction[];
  /** Every agent log line and every action played, with its virtual time. */
  log?: (line: string) => void;
  /** Called with the simulated cluster before the first step (debugging: its clock, its nodes). */
  onCluster?: (c: SimulatedCluster) => void;
  /** Simulated PostgreSQL's options (tests plant old behaviours to prove an invariant can fail). */
  postgres?: SimulatedClusterOptions['postgres'];
}

export interface Violation {
  step: number;
  invariant: string;
  detail: string;
  /** Virtual ms since the cluster started. */
  at: number;
}

export interface RunStats {
  virtualMs: number;
  writes: number;
  acknowledged: number;
  /** Faults injected and operator requests sent. */
  faults: number;
  requests: number;
  /** How the operator requests were answered: `switchover 200` → count (`refused`: agent down). */
  answers: Record<string, number>;
  leaderChanges: number;
  /** Virtual ms the heal phase took to reach a writable leader (null: it did not). */
  healMs: number | null;
  /**
   * Virtual ms an orphan primary (its agent dead or frozen) accepted writes beside another
   * writable node, in all and the longest window (see singleWritableNode).
   */
  orphanWritableMs: number;
  orphanWritableLongestMs: number;
  /** Per client kind (leader, first-writable, sticky): how its writes ended. */
  clients: Record<string, Record<ClientOutcome, number>>;
  /**
   * Windows in which a node whose agent was dead or frozen still acknowledged writes while
   * another node did (no fencing): how many, and the longest, in virtual ms.
   */
  unfenced: { windows: number; longestMs: number };
}

export interface RunResult {
  ok: boolean;
  seed: number;
  options: Required<
    Omit<
      RunOptions,
      'extraInvariants' | 'coverage' | 'schedule' | 'log' | 'onCluster' | 'checkTimeline' | 'postgres'
    >
  > & {
    /** The schedule's text form when it was given rather than generated from the seed. */
    schedule: string | null;
  };
  violations: Violation[];
  /** What was played: the whole schedule, or up to the failing step. */
  schedule: ScheduleAction[];
  stats: RunStats;
  /** The command that replays this run. */
  replay: string;
}

const TICK_MS = INVARIANT_TICK_MS;
/** The clients that write to any node accepting writes do so twice a step (every 2.5 s). */
const CLIENT_EVERY_MS = 2500;

export function replayCommand(o: RunResult['options']): string {
  let cmd = `pgwarden sim --seed ${o.seed} --nodes ${o.nodes} --steps ${o.steps}`;
  if (o.stepMs !== 5000) cmd += ` --step-ms ${o.stepMs}`;
  if (o.ttl !== 30) cmd += ` --ttl ${o.ttl}`;
  if (o.synchronousMode) cmd += ' --sync';
  if (!o.checkHeal) cmd += ' --no-check-heal';
  if (o.schedule !== null) cmd += ` --schedule '${o.schedule}'`;
  return cmd;
}

/** /config says pause (maintenance mode): no failover until someone resumes. */
function clusterPaused(c: SimulatedCluster): boolean {
  return pausedIn(c.dynamicConfig());
}

/** What the runner tracks while a schedule plays, beyond the cluster itself. */
interface RunState {
  stats: RunStats;
  synchronousMode: boolean;
  /** Manual failovers to a member /sync does not name, still unanswered. */
  lossyFailovers: number;
  /** Their candidates: the request stays in effect while /failover names one of them. */
  lossyCandidates: Set<string>;
  /** Writes such a failover gave up: acknowledged or in flight before it was answered. */
  givenUp: Set<Commit>;
  /** Acknowledged writes looked at by giveUpUnfenced so far. */
  unfencedSeen: number;
  causes: LeadershipCauses;
}

/**
 * After a lossy failover (to a member /sync did not name), writes the old primary acknowledged
 * while its agent could not act (dead or frozen: nothing can demote it without fencing) are
 * given up too: /sync named nobody or another member, so that primary committed without waiting
 * for the new leader, which is what the operator accepted. A running agent's primary that keeps
 * acknowledging is caught by no-split-brain-writes.
 */
function giveUpUnfenced(c: SimulatedCluster, run: RunState): void {
  const acked = c.world.acknowledged;
  for (; run.unfencedSeen < acked.length; run.unfencedSeen++) {
    const w = acked[run.unfencedSeen]!;
    const n = c.node(w.node);
    if (run.lossyCandidates.size > 0 && (!n.alive() || n.frozen())) run.givenUp.add(w);
  }
}

/** Everything written so far is given up (a lossy failover is pending or just answered). */
function giveUpWrites(c: SimulatedCluster, run: RunState): void {
  for (const w of c.world.acknowledged) run.givenUp.add(w);
  for (const w of c.world.waiting()) run.givenUp.add(w);
}

/** An operator request, not waited for: its answer is counted when it comes. */
function send(
  c: SimulatedCluster,
  node: string,
  method: RestMethod,
  path: string,
  body: unknown,
  what: string,
  run: RunState,
): Promise<void> {
  const count = (key: string) => {
    run.stats.answers[key] = (run.stats.answers[key] ?? 0) + 1;
  };
  return c
    .node(node)
    .request(method, path, body)
    .then(
      (res) => count(`${what} ${res.status}`),
      () => count(`${what} refused`),
    );
}

const DURATION_OF: Record<SlowOperation, keyof SimulatedDurations> = {
  promote: 'promoteMs',
  stop: 'stopMs',
  start: 'startMs',
  basebackup: 'basebackupMs',
  rewind: 'rewindMs',
};

/** A schedule action on the cluster. Actions that no longer apply (thaw of a running agent) do nothing. */
async function apply(c: SimulatedCluster, a: ScheduleAction, run: RunState): Promise<void> {
  const at = (inS: number | null) =>
    inS === null ? undefined : new Date(c.now() + inS * 1000).toISOString();
  switch (a.kind) {
    case 'kill':
      await c.node(a.node).kill();
      break;
    case 'kill-agent':
      await c.node(a.node).killAgent();
      break;
    case 'restart':
      if (!c.node(a.node).alive()) await c.node(a.node).restart();
      break;
    case 'crash-postgres':
      c.node(a.node).crashPostgres();
      break;
    case 'freeze':
      if (c.node(a.node).alive()) c.node(a.node).freeze();
      break;
    case 'thaw':
      c.node(a.node).thaw();
      break;
    case 'dcs-cut':
    case 'dcs-reconnect':
      c.node(a.node).setDcsReachable(a.kind === 'dcs-reconnect');
      break;
    case 'dcs-down':
    case 'dcs-up':
      c.dcs.setAvailable(a.kind === 'dcs-up');
      break;
    case 'dcs-latency':
      c.dcs.setLatency(a.ms);
      break;
    case 'dcs-flaky':
      c.node(a.node).setDcsFlaky(a.percent, a.latencyMs);
      break;
    case 'partition':
      c.partition(a.a, a.b);
      break;
    case 'heal':
      c.heal(a.a, a.b);
      break;
    case 'reject':
      c.reject(a.node, a.from);
      break;
    case 'accept':
      c.accept(a.node);
      break;
    case 'slow':
      c.node(a.node).postgres.setDurations({ [DURATION_OF[a.op]]: a.ms });
      break;
    case 'fail':
      c.node(a.node).failNext(a.op);
      break;
    case 'drift':
      c.node(a.node).clock.setDriftPpm(a.ppm);
      break;
    case 'clock-step': {
      const clock = c.node(a.node).clock;
      c.clock.setTimeout(() => clock.step(a.ms), a.afterMs);
      break;
    }
    case 'shutdown':
      void c
        .node(a.node)
        .shutdown()
        .catch(() => {});
      break;
    case 'switchover': {
      const body: Record<string, unknown> = {};
      const leader = c.leader();
      if (leader !== null) body['leader'] = leader;
      if (a.candidate !== null) body['candidate'] = a.candidate;
      const when = at(a.inS);
      if (when) body['scheduled_at'] = when;
      send(c, a.via, 'POST', '/switchover', body, 'switchover', run);
      break;
    }
    case 'failover': {
      // Patroni lets an operator fail over to any member, also one that synchronous
      // replication never waited for: the writes it lacks are given up, by request.
      const sync = c.syncState();
      const lossy =
        run.synchronousMode && sync?.leader !== a.candidate && !(sync?.standbys ?? []).includes(a.candidate);
      if (lossy) {
        run.lossyFailovers++;
        run.lossyCandidates.add(a.candidate);
      }
      void send(c, a.via, 'POST', '/failover', { candidate: a.candidate }, 'failover', run).finally(() => {
        if (!lossy) return;
        run.lossyFailovers--;
        giveUpWrites(c, run);
      });
      break;
    }
    case 'pause':
    case 'resume':
      send(c, a.via, 'PATCH', '/config', { pause: a.kind === 'pause' }, a.kind, run);
      break;
    case 'restart-postgres': {
      const when = at(a.inS);
      send(c, a.node, 'POST', '/restart', when ? { schedule: when } : {}, 'restart', run);
      break;
    }
    case 'reinitialize':
      send(c, a.node, 'POST', '/reinitialize', { force: a.force }, 'reinitialize', run);
      break;
    case 'reload':
      send(c, a.node, 'POST', '/reload', undefined, 'reload', run);
      break;
    case 'patch-config':
      send(
        c,
        a.via,
        'PATCH',
        '/config',
        { ttl: a.ttl, loop_wait: a.loopWait, retry_timeout: a.retryTimeout },
        'patch-config',
        run,
      );
      break;
  }
}

/**
 * loop_wait and retry_timeout for a ttl: Patroni's defaults (10, 10) when they fit, otherwise a
 * third of the ttl each, so that loop_wait + 2 × retry_timeout ≤ ttl as Patroni requires.
 */
export function timeoutsFor(ttl: number): { loop_wait: number; retry_timeout: number } {
  const t = Math.min(10, Math.max(1, Math.floor(ttl / 3)));
  return { loop_wait: t, retry_timeout: t };
}

/** Play one seeded schedule; stops at the first violation. */
export async function runSchedule(opts: RunOptions): Promise<RunResult> {
  const options: RunResult['options'] = {
    seed: opts.seed,
    nodes: opts.nodes ?? 3,
    steps: opts.steps ?? 60,
    stepMs: opts.stepMs ?? 5000,
    synchronousMode: opts.synchronousMode ?? false,
    ttl: opts.ttl ?? 30,
    checkHeal: opts.checkHeal ?? true,
    schedule: opts.schedule ? formatSchedule(opts.schedule) : null,
  };
  const { seed, nodes, steps, stepMs, synchronousMode, ttl } = options;
  const schedule = opts.schedule ?? generateSchedule(seed, nodes, steps);
  const violations: Violation[] = [];
  const stats: RunStats = {
    virtualMs: 0,
    writes: 0,
    acknowledged: 0,
    faults: 0,
    requests: 0,
    answers: {},
    leaderChanges: 0,
    healMs: null,
    orphanWritableMs: 0,
    orphanWritableLongestMs: 0,
    clients: {},
    unfenced: { windows: 0, longestMs: 0 },
  };
  const result = (): RunResult => ({
    ok: violations.length === 0,
    seed,
    options,
    violations,
    schedule: violations.length > 0 ? schedule.filter((f) => f.step <= violations[0]!.step) : schedule,
    stats,
    replay: replayCommand(options),
  });

  const c = createSimulatedCluster({
    nodes,
    seed,
    stepMs: TICK_MS,
    dcs: {
      ttl,
      ...timeoutsFor(ttl),
      synchronous_mode: synchronousMode,
      ...(opts.checkTimeline === undefined ? {} : { check_timeline: opts.checkTimeline }),
    },
    inspect: opts.coverage?.inspect,
    log: opts.log,
    postgres: opts.postgres,
  });
  opts.onCluster?.(c);
  const run: RunState = {
    stats,
    synchronousMode,
    lossyFailovers: 0,
    lossyCandidates: new Set(),
    givenUp: new Set(),
    unfencedSeen: 0,
    causes: new LeadershipCauses(ttl),
  };
  const step = { n: -1 };
  const ctx = (): InvariantContext => {
    const pending = c.failoverCandidate();
    if (run.lossyFailovers > 0 || (pending !== null && run.lossyCandidates.has(pending)))
      giveUpWrites(c, run);
    giveUpUnfenced(c, run);
    return { cluster: c, step: step.n, synchronousMode, givenUp: run.givenUp, causes: run.causes };
  };
  const checkAll = (list: Invariant[]): boolean => {
    for (const inv of list) {
      const detail = inv.check(ctx());
      if (detail !== null) {
        violations.push({ step: step.n, invariant: inv.name, detail, at: c.now() });
        return false;
      }
    }
    return true;
  };
  const names = c.nodes.map((n) => n.name);
  const anyNodeClients = [new AnyNodeClient('first-writable', names), new AnyNodeClient('sticky', names)];
  const clientWrites: ClientWrite[] = [];
  let lastLeader: string | null = null;
  // Whole ticks of TICK_MS (the cluster's step), the tick invariants after each.
  const tick = async (ms: number): Promise<boolean> => {
    let ok = true;
    await c.advance(Math.ceil(ms / TICK_MS) * TICK_MS, () => {
      const l = c.leader();
      if (l !== null && l !== lastLeader) {
        if (lastLeader !== null) stats.leaderChanges++;
        lastLeader = l;
      }
      ok = checkAll(tickInvariants);
      return ok;
    });
    return ok;
  };

  try {
    await c.start();
    // Bootstrap: a leader before the first fault (time still checked tick by tick).
    for (let waited = 0; !leaderAfterHeal(c) && waited < 120_000; waited += TICK_MS) {
      if (!(await tick(TICK_MS))) return result();
    }
    let next = 0;
    for (step.n = 0; step.n < steps; step.n++) {
      while (next < schedule.length && schedule[next]!.step === step.n) {
        const action = schedule[next]!;
        opts.log?.(`${(c.now() / 1000).toFixed(1)}s ${describeAction(action)}`);
        if (OPERATOR_KINDS.has(action.kind)) stats.requests++;
        else stats.faults++;
        run.causes.note(action, c.now());
        await apply(c, action, run);
        next++;
      }
      // A client write through the current primary; its acknowledgement comes while time runs.
      stats.writes++;
      const sentAt = c.now();
      const out = await c.write(100, 0);
      clientWrites.push({ client: 'leader', node: out.node, sentAt, commit: out.commit });
      // Clients of any node that accepts writes, every second.
      for (let t = 0; t < stepMs; t += CLIENT_EVERY_MS) {
        for (const client of anyNodeClients) clientWrites.push(client.write(c));
        if (!(await tick(Math.min(CLIENT_EVERY_MS, stepMs - t)))) return result();
      }
      if (!checkAll(stepInvariants) || !checkAll(opts.extraInvariants ?? [])) return result();
    }
    // Heal phase: every fault undone (clock drift and slow operations stay: they are not
    // outages), maintenance mode ended as an operator would, then a writable leader in time.
    step.n = steps;
    run.causes.healAll(c.now());
    c.dcs.setAvailable(true);
    c.dcs.setLatency(0);
    c.healAll();
    const reviveAll = async () => {
      for (const n of c.nodes) {
        if (n.frozen()) n.thaw();
        if (!n.alive()) await n.restart();
      }
    };
    await reviveAll();
    const bound = 3 * ttl * 1000 + 30_000;
    const start = c.now();
    let resumeAsked = -Infinity;
    // What an operator and a process supervisor do until the cluster is whole: agents that
    // exited are started again (a shutdown requested before the heal may complete only now, a
    // failing operation may have stopped one), maintenance mode is ended.
    const supervise = async () => {
      await reviveAll();
      if (clusterPaused(c) && c.now() - resumeAsked >= 5000) {
        resumeAsked = c.now();
        send(c, c.nodes[0]!.name, 'PATCH', '/config', { pause: false }, 'resume', run);
      }
    };
    while (!leaderAfterHeal(c) && c.now() - start < bound) {
      await supervise();
      if (!(await tick(TICK_MS))) return result();
    }
    if (leaderAfterHeal(c)) stats.healMs = c.now() - start;
    else {
      violations.push({
        step: steps,
        invariant: 'leader-after-heal',
        detail: `no writable leader ${bound} ms after every fault healed: ${JSON.stringify(c.summary())}`,
        at: c.now(),
      });
      return result();
    }
    // Writes acknowledged before the heal must still be there once a leader is back.
    if (!checkAll(stepInvariants)) return result();
    // Every member back on the leader's timeline, streaming: rewinds, clones and restarts
    // included (slow operations take up to 30 s each).
    if (!options.checkHeal) return result();
    const healBound = 3 * ttl * 1000 + 90_000;
    const leaderAt = c.now();
    while (clusterNotHealed(c) !== null && c.now() - leaderAt < healBound) {
      await supervise();
      if (!(await tick(TICK_MS))) return result();
    }
    const notHealed = clusterNotHealed(c);
    if (notHealed !== null) {
      violations.push({
        step: steps,
        invariant: 'cluster-heals',
        detail: `${healBound / 1000} s after a writable leader was back: ${notHealed}`,
        at: c.now(),
      });
    }
    return result();
  } finally {
    stats.virtualMs = c.now();
    stats.acknowledged = c.world.acknowledged.length;
    const orphan = orphanWritable(c);
    stats.orphanWritableMs = orphan.totalMs;
    stats.orphanWritableLongestMs = orphan.longestMs;
    stats.clients = clientTally(clientWrites);
    const windows = unfencedWindows(c);
    stats.unfenced = {
      windows: windows.length,
      longestMs: windows.reduce((m, w) => Math.max(m, w.to - w.from), 0),
    };
    await c.stop();
  }
}

/** What a failing run prints: seed, schedule up to the failing step, replay command. */
export function formatFailure(r: RunResult): string {
  const lines = [`seed ${r.seed}: ${r.violations.length} violation(s)`];
  for (const v of r.violations) {
    lines.push(`  step ${v.step} (${(v.at / 1000).toFixed(1)} s virtual): ${v.invariant}: ${v.detail}`);
  }
  lines.push(`  schedule up to step ${r.violations[0]?.step ?? r.options.steps}:`);
  if (r.schedule.length === 0) lines.push('    (no faults, no requests)');
  for (const f of r.schedule) lines.push(`    ${describeAction(f)}`);
  lines.push(`  replay: ${r.replay}`);
  return lines.join('\n');
}

export function formatSummary(r: RunResult): string {
  const s = r.stats;
  return `seed ${r.seed}: ${r.ok ? 'ok' : 'FAIL'} faults=${s.faults} requests=${s.requests} writes=${s.writes} acked=${s.acknowledged} leader_changes=${s.leaderChanges} heal_ms=${s.healMs ?? '-'}${s.orphanWritableMs > 0 ? ` orphan_writable_ms=${s.orphanWritableMs} (longest ${s.orphanWritableLongestMs})` : ''}${s.unfenced.windows > 0 ? ` unfenced=${s.unfenced.windows}/${(s.unfenced.longestMs / 1000).toFixed(1)}s` : ''} virtual_s=${(s.virtualMs / 1000).toFixed(0)}`;
}
