/**
 * `pgwarden demo`: etcd plus N agents on loopback, each agent as the PostgreSQL OS user, with
 * live bootstrap progress, until Ctrl-C stops everything it started.
 */
import { chownSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ClusterNode, type LocalCluster, startLocalCluster } from '../local/cluster.ts';
import { isRoot, lookupUser } from '../local/os-user.ts';
import { CliError } from './errors.ts';

const ETCD = '/usr/bin/etcd';
const PG_BIN = '/usr/lib/postgresql/15/bin';

export async function runDemo(opts: { dir?: string; nodes: string }): Promise<number> {
  const count = Number(opts.nodes);
  if (!Number.isInteger(count) || count < 1 || count > 9) throw new CliError('--nodes must be 1 to 9', 2);
  for (const [bin, pkg] of [
    [ETCD, 'etcd-server'],
    [join(PG_BIN, 'initdb'), 'postgresql-15'],
  ] as const) {
    if (!existsSync(bin)) {
      throw new CliError(
        `${bin} is missing: install it with \`apt-get install -y ${pkg}\` (or run \`npm run demo\`)`,
        2,
      );
    }
  }
  const keep = opts.dir !== undefined;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'pgwarden-demo-'));
  mkdirSync(dir, { recursive: true });
  const started = Date.now();
  const say = (msg: string) =>
    process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}\n`);

  let cluster: LocalCluster | null = null;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('stopping the agents (leader last) and etcd ...');
    await cluster?.stop();
    if (!keep) rmSync(dir, { recursive: true, force: true });
    say(keep ? `stopped; data and logs kept in ${dir}` : 'stopped; temp dir removed');
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  say(`data and logs under ${dir}`);
  if (isRoot()) {
    const pgUser = lookupUser('postgres');
    if (!pgUser) throw new CliError('there is no `postgres` OS user: install postgresql-15', 2);
    chownSync(dir, pgUser.uid, pgUser.gid);
  }
  cluster = await startLocalCluster({ dir, nodes: count, log: say, preferDefaultPorts: true, journal: true });
  say(`etcd on ${cluster.etcdEndpoint}`);
  for (const n of cluster.nodes)
    say(
      `${n.name}: REST ${n.apiUrl}  PostgreSQL 127.0.0.1:${n.pgPort}  config ${n.configFile}  log ${n.logFile}`,
    );

  const ready = await cluster.waitUntilReady({
    timeoutMs: 120_000,
    onProgress: (nodes) => say(progressLine(nodes)),
  });
  if (!ready) {
    say('the cluster did not come up within 120 s; see the logs above');
    await stop(1);
    return 1;
  }
  say(`cluster ready: 1 leader and ${count - 1} streaming replica(s)`);
  process.stdout.write(`\n  REST API:     ${cluster.nodes.map((n) => n.apiUrl).join('  ')}\n`);
  process.stdout.write(`  connect:      psql '${cluster.connectionString()}'\n`);
  process.stdout.write(`  try:          curl -s ${cluster.nodes[0]!.apiUrl}/cluster\n`);
  const leader = cluster.nodes.find((n) => n.status?.role === 'master');
  if (leader) {
    const pids = [cluster.agentPid(leader.name), cluster.postmasterPid(leader.name)].filter(
      (p) => p !== null,
    );
    process.stdout.write(
      `  fail over:    kill -9 ${pids.join(' ')}   # ${leader.name}'s agent and postmaster\n`,
    );
  }
  process.stdout.write('\n');
  say('press Ctrl-C to stop everything');
  let last = '';
  const watch = setInterval(async () => {
    const line = progressLine(await cluster!.poll());
    if (line !== last) {
      last = line;
      say(line);
    }
  }, 1000);
  await new Promise(() => {});
  clearInterval(watch);
  return 0;
}

function progressLine(nodes: ClusterNode[]): string {
  return nodes
    .map((n) => `${n.name}: ${n.status ? `${n.status.role}/${n.status.state}` : 'down'}`)
    .join('  |  ');
}
