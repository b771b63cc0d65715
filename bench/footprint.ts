/**
 * What an agent costs the database host it runs on, pgwarden beside Patroni 3.0.2 in the same
 * run (interleaved). Per run and agent kind, a fresh 3-node cluster (etcd + three agents as the
 * postgres OS user, Patroni's default timings, the same YAML):
 *
 *  - start to REST: from the agents' spawn to each one's first HTTP answer (any status);
 *  - idle: after a settle period, each agent's CPU over a window (/proc, the agent and its
 *    children other than PostgreSQL) and its resident memory at the end;
 *  - after load: the leader's RSS 5 s after a wrk load on GET /primary (16 connections);
 *  - the command line, on that cluster: `--version` and `-c node1.yml list`, wall time of each
 *    of N runs (pgwarden as installed: `node dist/cli/main.js`, no source-checkout check;
 *    Patroni: `patroni --version`, `patronictl list`).
 *
 *   npx tsx bench/footprint.ts [--runs N] [--settle S] [--window S] [--load S] [--cli-runs N]
 *     [--kinds pgwarden,pgwarden-no-gossip,patroni]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClusterNode } from '../src/local/cluster.ts';
import { agentArgv } from './lib/agents.ts';
import { arg, onFreshCluster, ready } from './lib/fresh-cluster.ts';
import { idleWindow } from './lib/idle-window.ts';
import { agentProcesses, rssMb } from './lib/procs.ts';
import { gitState, loadInfo, machineInfo } from './lib/provenance.ts';
import { writeResults } from './lib/results.ts';
import { groupedTable, median } from './lib/table.ts';
import { sleep } from './lib/time.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DCS = { ttl: 30, loop_wait: 10, retry_timeout: 10 };
const KINDS = ['pgwarden', 'pgwarden-no-gossip', 'patroni'] as const;
type Kind = (typeof KINDS)[number];

interface Run {
  kind: Kind;
  run: number;
  ok: boolean;
  startToRestMs: number[];
  cpuPercent: number[];
  rssIdleMb: number[];
  leader: string | null;
  leaderRssAfterLoadMb: number | null;
  loadRequests: number | null;
  cliMs: { version: number[]; list: number[] };
  error?: string;
}

/** The HTTP status of GET url, or null without an answer within 500 ms. */
function statusOf(url: string): Promise<number | null> {
  return new Promise((resolve) => {
    const req = request(url, { signal: AbortSignal.timeout(500) }, (res) => {
      res.resume();
      resolve(res.statusCode ?? null);
    });
    req.on('error', () => resolve(null));
    req.end();
  });
}

/** Each node's time from `since` to its REST API's first answer (polled every 20 ms, 60 s at most). */
async function startToRest(nodes: ClusterNode[], since: number): Promise<number[]> {
  return Promise.all(
    nodes.map(async (n) => {
      while (Date.now() - since < 60_000) {
        if ((await statusOf(`${n.apiUrl}/patroni`)) !== null) return Date.now() - since;
        await sleep(20);
      }
      throw new Error(`${n.name}'s REST API did not answer within 60 s`);
    }),
  );
}

/** Wall milliseconds of each of `runs` runs of a command (its exit status must be 0). */
function wallMs(argv: string[], runs: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    // spawns: node /usr/bin/patroni /usr/bin/patronictl (the command lines compared)
    const r = spawnSync(argv[0]!, argv.slice(1), {
      encoding: 'utf8',
      env: { ...process.env, HOME: tmpdir() },
    });
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    if (r.status !== 0) throw new Error(`${argv.join(' ')}: exit ${r.status}: ${r.stderr}`);
    out.push(ms);
  }
  return out;
}

/** Requests wrk completed in `seconds` of GET url on 16 connections, 2 threads. */
function wrkLoad(url: string, seconds: number): number {
  const text = execFileSync('wrk', ['-t2', '-c16', `-d${seconds}s`, url], { encoding: 'utf8' });
  return Number(/(\d+) requests in/.exec(text)?.[1] ?? Number.NaN);
}

async function measure(kind: Kind, run: number, o: Record<string, number>): Promise<Run> {
  const out: Run = {
    kind,
    run,
    ok: false,
    startToRestMs: [],
    cpuPercent: [],
    rssIdleMb: [],
    leader: null,
    leaderRssAfterLoadMb: null,
    loadRequests: null,
    cliMs: { version: [], list: [] },
  };
  const error = await onFreshCluster(
    `footprint-${kind}`,
    {
      nodes: 3,
      scope: `footprint-${kind}`,
      dcs: DCS,
      agentArgv: agentArgv(kind === 'patroni' ? 'patroni' : 'pgwarden'),
      editConfig: (_n, doc) => (kind === 'pgwarden-no-gossip' ? { ...doc, gossip: { enabled: false } } : doc),
    },
    async (cluster, spawnedAt) => {
      out.startToRestMs = await startToRest(cluster.nodes, spawnedAt);
      await ready(cluster);
      const idle = await idleWindow(cluster, o['settle']!, o['window']!);
      out.cpuPercent = idle.cpuPercent;
      out.rssIdleMb = idle.rssMb;

      const config = cluster.nodes[0]!.configFile;
      const cli =
        kind === 'patroni'
          ? {
              version: ['/usr/bin/patroni', '--version'],
              list: ['/usr/bin/patronictl', '-c', config, 'list'],
            }
          : {
              version: [process.execPath, join(REPO, 'dist/cli/main.js'), '--version'],
              list: [process.execPath, join(REPO, 'dist/cli/main.js'), '-c', config, 'list'],
            };
      out.cliMs = { version: wallMs(cli.version, o['cliRuns']!), list: wallMs(cli.list, o['cliRuns']!) };

      const statuses = await Promise.all(cluster.nodes.map((n) => statusOf(`${n.apiUrl}/primary`)));
      const leader = cluster.nodes[statuses.indexOf(200)];
      if (!leader) throw new Error('no node answers 200 on /primary');
      out.leader = leader.name;
      out.loadRequests = wrkLoad(`${leader.apiUrl}/primary`, o['load']!);
      await sleep(5000);
      out.leaderRssAfterLoadMb = rssMb(agentProcesses(cluster.agentPid(leader.name)!));
      out.ok = true;
    },
  );
  if (error) out.error = error;
  return out;
}

async function main(): Promise<void> {
  const o = {
    runs: Number(arg('runs', '2')),
    settle: Number(arg('settle', '90')),
    window: Number(arg('window', '60')),
    load: Number(arg('load', '15')),
    cliRuns: Number(arg('cli-runs', '10')),
  };
  const kinds = arg('kinds', KINDS.join(','))
    .split(',')
    .filter((k): k is Kind => (KINDS as readonly string[]).includes(k));
  if (kinds.includes('patroni') && !existsSync('/usr/bin/patroni')) {
    console.error('patroni is not installed: bash scripts/install-deps.sh --bench');
    process.exit(2);
  }
  if (kinds.some((k) => k !== 'patroni')) {
    const build = spawnSync(process.execPath, [join(REPO, 'scripts/build.mjs'), '--if-stale'], {
      stdio: 'inherit',
    });
    if (build.status !== 0) process.exit(1);
  }
  const startedAt = new Date();
  const load = [loadInfo()];
  const results: Run[] = [];
  // Interleaved, so that a machine busier for a while weighs on every kind alike.
  for (let r = 1; r <= o.runs; r++) {
    for (const k of kinds) {
      const res = await measure(k, r, o);
      results.push(res);
      console.error(
        `${k} run ${r}: start ${res.startToRestMs.join('/')} ms, cpu ${res.cpuPercent.map((x) => x.toFixed(2)).join('/')} %, ` +
          `rss ${res.rssIdleMb.map((x) => x.toFixed(0)).join('/')} MB, leader after load ${res.leaderRssAfterLoadMb?.toFixed(0)} MB` +
          `${res.error ? ` (${res.error})` : ''}`,
      );
      load.push(loadInfo());
    }
  }
  const agentRows = results.flatMap((r) =>
    r.cpuPercent.map((cpu, i) => ({
      ok: r.ok,
      run: r.run * 10 + i + 1,
      kind: r.kind,
      start: r.startToRestMs[i] ?? null,
      cpu,
      rss: r.rssIdleMb[i]!,
      afterLoad: r.leader === `node${i + 1}` ? r.leaderRssAfterLoadMb : null,
    })),
  );
  const agents = groupedTable({
    groupHead: 'agent',
    groups: kinds.map((k) => ({ name: k, runs: agentRows.filter((x) => x.kind === k) })),
    columns: [
      { head: 'start → REST ms', get: (x) => x.start, digits: 0 },
      { head: 'idle CPU % of a core', get: (x) => x.cpu, digits: 2 },
      { head: 'RSS idle MB', get: (x) => x.rss, digits: 0 },
      { head: `leader RSS after ${o.load} s wrk MB`, get: (x) => x.afterLoad, digits: 0 },
    ],
    text: [],
  });
  const cli = groupedTable({
    groupHead: 'command line',
    groups: kinds
      .filter((k) => k !== 'pgwarden-no-gossip')
      .map((k) => ({
        name: k === 'patroni' ? 'patroni / patronictl' : 'pgwarden',
        runs: results
          .filter((r) => r.kind === k)
          .map((r) => ({
            ok: r.ok,
            run: r.run,
            version: median(r.cliMs.version),
            list: median(r.cliMs.list),
          })),
      })),
    columns: [
      { head: '--version ms (median of runs)', get: (x) => x.version, digits: 0 },
      { head: 'list ms (median of runs)', get: (x) => x.list, digits: 0 },
    ],
    text: [],
  });
  const path = writeResults('footprint', startedAt, {
    startedAt: startedAt.toISOString(),
    git: gitState(),
    machine: machineInfo(),
    load,
    settings: { dcs: DCS, ...o },
    results,
  });
  console.log(`${agents}\n\n${cli}`);
  console.log(`\n(run = run × 10 + agent; results in ${path})`);
}

await main();
