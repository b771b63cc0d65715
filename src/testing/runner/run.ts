/**
 * The seeded runner: a fault schedule plus a client workload, generated from one seed, played on
 * a simulated cluster of production Agents, with invariants checked at every tick and step, then
 * a heal phase that requires a writable leader and every member streaming again.
 * `pgwarden sim` (src/cli/sim-command.ts) and test/unit/sim-runner.test.ts drive it.
 */
import { join } from 'node:path';
import { writeJournal } from '../../actors/journal.ts';
import { DEFAULT_SHORT_LEASE_S } from '../../cluster/short-lease.ts';
import { pausedIn } from '../../config/dynamic.ts';
import { LeadershipCauses } from '../causes.ts';
import { AnyNodeClient, type ClientWrite, clientTally } from '../clients.ts';
import { createSimulatedCluster, type SimulatedCluster } from '../cluster/index.ts';
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
} from '../invariants/index.ts';
import { describeAction, formatSchedule, generateSchedule, OPERATOR_KINDS } from '../schedule/index.ts';
import { apply, send } from './apply.ts';
import { replayCommand } from './report.ts';
import { giveUpUnfenced, giveUpWrites, type RunState } from './run-state.ts';
import type { RunOptions, RunResult, RunStats, Violation } from './types.ts';

const TICK_MS = INVARIANT_TICK_MS;
/** The clients that write to any node accepting writes do so twice a step (every 2.5 s). */
const CLIENT_EVERY_MS = 2500;

/** /config says pause (maintenance mode): no failover until someone resumes. */
function clusterPaused(c: SimulatedCluster): boolean {
  return pausedIn(c.dynamicConfig());
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
    failsafeMode: opts.failsafeMode ?? false,
    watchdog: opts.watchdog ?? false,
    fastFailover: opts.fastFailover ?? true,
    ttl: opts.ttl ?? 30,
    checkHeal: opts.checkHeal ?? true,
    schedule: opts.schedule ? formatSchedule(opts.schedule) : null,
  };
  const { seed, nodes, steps, stepMs, synchronousMode, failsafeMode, ttl } = options;
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
      ...(failsafeMode ? { failsafe_mode: true } : {}),
      ...(opts.checkTimeline === undefined ? {} : { check_timeline: opts.checkTimeline }),
    },
    inspect: opts.coverage?.inspect,
    log: opts.log,
    postgres: opts.postgres,
    journals: opts.journals || opts.journalDir !== undefined,
    ...(options.watchdog ? { watchdog: { mode: 'automatic' as const } } : {}),
    fastFailover: options.fastFailover ? { shortLeaseS: DEFAULT_SHORT_LEASE_S } : false,
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
    if (opts.journalDir !== undefined) writeJournals(c, opts.journalDir, seed, synchronousMode);
  }
}

/** Each node's journal as a file (what `pgwarden replay` reads). */
function writeJournals(c: SimulatedCluster, dir: string, seed: number, sync: boolean): void {
  for (const n of c.nodes) {
    if (n.journal)
      writeJournal(join(dir, `${seed}${sync ? '-sync' : ''}-${n.name}.journal`), n.journal.entries());
  }
}
