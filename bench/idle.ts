/**
 * What an idle agent costs its host: per run, a fresh 3-node cluster (etcd + three agents as the
 * postgres OS user, Patroni's default timings), left alone for a settle period (90 s by default),
 * then each agent's CPU time over a measured window (user + system, from /proc, the agent's
 * process and its children other than PostgreSQL) and its resident memory at the end. Variants:
 * pgwarden as configured by default (gossip and fast failover on), pgwarden with gossip off,
 * pgwarden with fast failover off, and Patroni 3.0.2 on the same YAML.
 *
 *   npx tsx bench/idle.ts [--runs N] [--window S] [--settle S]
 *     [--variants pgwarden,pgwarden-no-gossip,pgwarden-fast,pgwarden-no-fast,patroni]
 */
import { existsSync } from 'node:fs';
import { agentArgv, fastFailoverYaml } from './lib/agents.ts';
import { arg, onFreshCluster, ready } from './lib/fresh-cluster.ts';
import { idleWindow } from './lib/idle-window.ts';
import { gitState, loadInfo, machineInfo } from './lib/provenance.ts';
import { writeResults } from './lib/results.ts';
import { groupedTable } from './lib/table.ts';

const DCS = { ttl: 30, loop_wait: 10, retry_timeout: 10 };
const VARIANTS = ['pgwarden', 'pgwarden-no-gossip', 'pgwarden-fast', 'pgwarden-no-fast', 'patroni'] as const;
type Variant = (typeof VARIANTS)[number];

interface Run {
  variant: Variant;
  run: number;
  ok: boolean;
  /** Per agent: % of one core over the window, and RSS (MB) at its end. */
  cpuPercent: number[];
  rssMb: number[];
  error?: string;
}

async function measure(variant: Variant, run: number, settleS: number, windowS: number): Promise<Run> {
  const out: Run = { variant, run, ok: false, cpuPercent: [], rssMb: [] };
  const error = await onFreshCluster(
    `idle-${variant}`,
    {
      nodes: 3,
      scope: `idle-${variant}`,
      dcs: DCS,
      agentArgv: agentArgv(variant === 'patroni' ? 'patroni' : 'pgwarden'),
      editConfig: (_n, doc) =>
        variant === 'pgwarden-no-gossip'
          ? { ...doc, gossip: { enabled: false } }
          : variant === 'patroni'
            ? doc
            : { ...doc, ...fastFailoverYaml(variant) },
    },
    async (cluster) => {
      await ready(cluster);
      Object.assign(out, await idleWindow(cluster, settleS, windowS));
      out.ok = true;
    },
  );
  if (error) out.error = error;
  return out;
}

async function main(): Promise<void> {
  const runs = Number(arg('runs', '2'));
  const windowS = Number(arg('window', '60'));
  // 90 s: an agent runs for months, and its first half minute is not idle. V8's memory reducer
  // compacts the heap 20-30 s after the start's allocations (--trace-gc: "Mark-Compact (reduce)"
  // at 24-25 s, 30-60 ms each), and the code the agent runs once a second is still being
  // compiled; a 20 s settle put those one-off costs into the measured window (session 18).
  const settleS = Number(arg('settle', '90'));
  const variants = arg('variants', VARIANTS.join(','))
    .split(',')
    .filter((v): v is Variant => (VARIANTS as readonly string[]).includes(v));
  if (variants.includes('patroni') && !existsSync('/usr/bin/patroni')) {
    console.error('patroni is not installed: bash scripts/install-deps.sh --bench');
    process.exit(2);
  }
  const startedAt = new Date();
  const load = [loadInfo()];
  const results: Run[] = [];
  // Interleaved, so that a machine busier for a while weighs on every variant alike.
  for (let r = 1; r <= runs; r++) {
    for (const v of variants) {
      const res = await measure(v, r, settleS, windowS);
      results.push(res);
      console.error(
        `${v} run ${r}: cpu ${res.cpuPercent.map((x) => `${x.toFixed(2)}%`).join(' ')} rss ${res.rssMb.map((x) => `${x.toFixed(0)} MB`).join(' ')}${res.error ? ` (${res.error})` : ''}`,
      );
      load.push(loadInfo());
    }
  }
  // One row per agent: each agent is a sample.
  const rows = results.flatMap((r) =>
    r.cpuPercent.map((cpu, i) => ({
      ok: r.ok,
      run: r.run * 10 + i + 1,
      variant: r.variant,
      cpu,
      rss: r.rssMb[i]!,
    })),
  );
  const table = groupedTable({
    groupHead: 'agent',
    groups: variants.map((v) => ({ name: v, runs: rows.filter((x) => x.variant === v) })),
    columns: [
      { head: 'CPU % of a core', get: (x) => x.cpu, digits: 2 },
      { head: 'RSS MB', get: (x) => x.rss, digits: 0 },
    ],
    text: [],
  });
  const path = writeResults('idle', startedAt, {
    startedAt: startedAt.toISOString(),
    git: gitState(),
    machine: machineInfo(),
    load,
    settings: { dcs: DCS, runs, windowS, settleS },
    results,
  });
  console.log(table);
  console.log(`\n(run = run × 10 + agent; results in ${path})`);
}

await main();
