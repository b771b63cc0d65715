/**
 * The seeded runner: a fault schedule plus a client workload, generated from one seed, played on
 * a simulated cluster of production Agents, with invariants checked at every tick and step.
 * `pgwarden sim` (src/cli/sim-command.ts) and test/unit/sim-runner.test.ts drive it.
 */
import { seededRandom } from '../actors/simulated-postgres.ts';
import { createSimulatedCluster, type SimulatedCluster } from './cluster.ts';
import type { StateCoverage } from './coverage.ts';
import {
  type Invariant,
  type InvariantContext,
  leaderAfterHeal,
  stepInvariants,
  tickInvariants,
} from './invariants.ts';

export type FaultAction =
  | { step: number; kind: 'kill' | 'restart' | 'crash-postgres' | 'freeze' | 'thaw'; node: string }
  | { step: number; kind: 'dcs-down' | 'dcs-up' }
  | { step: number; kind: 'partition' | 'heal'; a: string; b: string };

export interface RunOptions {
  seed: number;
  nodes?: number;
  steps?: number;
  /** Virtual ms per step (default 5000). */
  stepMs?: number;
  synchronousMode?: boolean;
  ttl?: number;
  /** More checks, run after every step (tests use this to prove the harness can fail). */
  extraInvariants?: Invariant[];
  /** Collects which machine states the run visits (shared across runs to cover a budget). */
  coverage?: StateCoverage;
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
  faults: number;
  leaderChanges: number;
  /** Virtual ms the heal phase took to reach a writable leader (null: it did not). */
  healMs: number | null;
}

export interface RunResult {
  ok: boolean;
  seed: number;
  options: Required<Omit<RunOptions, 'extraInvariants' | 'coverage'>>;
  violations: Violation[];
  schedule: FaultAction[];
  stats: RunStats;
  /** The command that replays this run. */
  replay: string;
}

const TICK_MS = 100;

/** The fault schedule a seed generates (independent of how the cluster reacts). */
export function generateSchedule(seed: number, nodes: number, steps: number): FaultAction[] {
  const random = seededRandom(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)]!;
  const names = Array.from({ length: nodes }, (_, i) => `node${i + 1}`);
  const dead = new Set<string>();
  const frozen = new Set<string>();
  const cuts = new Set<string>();
  let dcsDown = false;
  const out: FaultAction[] = [];
  for (let step = 0; step < steps; step++) {
    if (random() >= 0.35) continue;
    const running = names.filter((n) => !dead.has(n) && !frozen.has(n));
    const choices: Array<[number, () => FaultAction]> = [];
    if (running.length > 0) {
      choices.push([2, () => ({ step, kind: 'kill', node: pick(running) })]);
      choices.push([2, () => ({ step, kind: 'crash-postgres', node: pick(running) })]);
      choices.push([2, () => ({ step, kind: 'freeze', node: pick(running) })]);
    }
    if (dead.size > 0) choices.push([4, () => ({ step, kind: 'restart', node: pick([...dead]) })]);
    if (frozen.size > 0) choices.push([4, () => ({ step, kind: 'thaw', node: pick([...frozen]) })]);
    choices.push(dcsDown ? [4, () => ({ step, kind: 'dcs-up' })] : [1, () => ({ step, kind: 'dcs-down' })]);
    if (nodes >= 2) {
      choices.push([
        2,
        () => {
          const a = pick(names);
          const b = pick(names.filter((n) => n !== a));
          return { step, kind: 'partition', a, b };
        },
      ]);
    }
    if (cuts.size > 0) {
      choices.push([
        3,
        () => {
          const [a, b] = pick([...cuts].sort()).split('|') as [string, string];
          return { step, kind: 'heal', a, b };
        },
      ]);
    }
    let r = random() * choices.reduce((s, [w]) => s + w, 0);
    let action = choices[0]![1];
    for (const [w, make] of choices) {
      if (r < w) {
        action = make;
        break;
      }
      r -= w;
    }
    const f = action();
    switch (f.kind) {
      case 'kill':
        dead.add(f.node);
        break;
      case 'restart':
        dead.delete(f.node);
        break;
      case 'freeze':
        frozen.add(f.node);
        break;
      case 'thaw':
        frozen.delete(f.node);
        break;
      case 'dcs-down':
        dcsDown = true;
        break;
      case 'dcs-up':
        dcsDown = false;
        break;
      case 'partition':
        cuts.add([f.a, f.b].sort().join('|'));
        break;
      case 'heal':
        cuts.delete([f.a, f.b].sort().join('|'));
        break;
      default:
        break;
    }
    out.push(f);
  }
  return out;
}

export function describeAction(f: FaultAction): string {
  switch (f.kind) {
    case 'dcs-down':
    case 'dcs-up':
      return `step ${f.step}: ${f.kind}`;
    case 'partition':
    case 'heal':
      return `step ${f.step}: ${f.kind} ${f.a} ${f.b}`;
    default:
      return `step ${f.step}: ${f.kind} ${f.node}`;
  }
}

export function replayCommand(o: RunResult['options']): string {
  let cmd = `pgwarden sim --seed ${o.seed} --nodes ${o.nodes} --steps ${o.steps}`;
  if (o.stepMs !== 5000) cmd += ` --step-ms ${o.stepMs}`;
  if (o.ttl !== 30) cmd += ` --ttl ${o.ttl}`;
  if (o.synchronousMode) cmd += ' --sync';
  return cmd;
}

async function apply(c: SimulatedCluster, f: FaultAction): Promise<void> {
  switch (f.kind) {
    case 'kill':
      await c.node(f.node).kill();
      break;
    case 'restart':
      await c.node(f.node).restart();
      break;
    case 'crash-postgres':
      c.node(f.node).crashPostgres();
      break;
    case 'freeze':
      c.node(f.node).freeze();
      break;
    case 'thaw':
      c.node(f.node).thaw();
      break;
    case 'dcs-down':
      c.dcs.setAvailable(false);
      break;
    case 'dcs-up':
      c.dcs.setAvailable(true);
      break;
    case 'partition':
      c.partition(f.a, f.b);
      break;
    case 'heal':
      c.heal(f.a, f.b);
      break;
  }
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
  };
  const { seed, nodes, steps, stepMs, synchronousMode, ttl } = options;
  const schedule = generateSchedule(seed, nodes, steps);
  const violations: Violation[] = [];
  const stats: RunStats = {
    virtualMs: 0,
    writes: 0,
    acknowledged: 0,
    faults: 0,
    leaderChanges: 0,
    healMs: null,
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
    dcs: { ttl, loop_wait: 10, retry_timeout: 10, synchronous_mode: synchronousMode },
    inspect: opts.coverage?.inspect,
  });
  const step = { n: -1 };
  const ctx = (): InvariantContext => ({ cluster: c, step: step.n, synchronousMode });
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
  let lastLeader: string | null = null;
  const tick = async (ms: number): Promise<boolean> => {
    for (let t = 0; t < ms; t += TICK_MS) {
      await c.advance(TICK_MS);
      const l = c.leader();
      if (l !== null && l !== lastLeader) {
        if (lastLeader !== null) stats.leaderChanges++;
        lastLeader = l;
      }
      if (!checkAll(tickInvariants)) return false;
    }
    return true;
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
        await apply(c, schedule[next]!);
        stats.faults++;
        next++;
      }
      // A client write through the current primary; its acknowledgement comes while time runs.
      stats.writes++;
      await c.write(100, 0);
      if (!(await tick(stepMs))) return result();
      if (!checkAll(stepInvariants) || !checkAll(opts.extraInvariants ?? [])) return result();
    }
    // Heal phase: every fault undone, then a writable leader within the bound.
    step.n = steps;
    c.dcs.setAvailable(true);
    c.healAll();
    for (const n of c.nodes) {
      if (n.frozen()) n.thaw();
      if (!n.alive()) await n.restart();
    }
    const bound = 3 * ttl * 1000 + 30_000;
    const start = c.now();
    while (!leaderAfterHeal(c) && c.now() - start < bound) {
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
    checkAll(stepInvariants);
    return result();
  } finally {
    stats.virtualMs = c.now();
    stats.acknowledged = c.world.acknowledged.length;
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
  if (r.schedule.length === 0) lines.push('    (no faults)');
  for (const f of r.schedule) lines.push(`    ${describeAction(f)}`);
  lines.push(`  replay: ${r.replay}`);
  return lines.join('\n');
}

export function formatSummary(r: RunResult): string {
  const s = r.stats;
  return `seed ${r.seed}: ${r.ok ? 'ok' : 'FAIL'} faults=${s.faults} writes=${s.writes} acked=${s.acknowledged} leader_changes=${s.leaderChanges} heal_ms=${s.healMs ?? '-'} virtual_s=${(s.virtualMs / 1000).toFixed(0)}`;
}
