/**
 * A whole pgwarden cluster on this machine: one etcd and N agent processes on loopback, each
 * agent as the PostgreSQL OS user with its own YAML file, data dir and log. The demo, the
 * integration tests and the benchmarks all drive clusters through this one module.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import {
  appendFileSync,
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { livePostmaster } from '../actors/postgres/postmaster-pid.ts';
import { AGENT_NODE_FLAGS } from './agent-node-flags.ts';
import { ClusterRest, installRestapiTls, type RestapiTls } from './cluster-rest.ts';
import type { ClusterNode, LocalClusterOptions, StatusDoc } from './cluster-types.ts';
import { type EtcdHandle, startEtcd } from './etcd-server.ts';
import { nodeDocument, REST_AUTH, SUPERUSER } from './node-document.ts';
import { asUser, isRoot, lookupUser, type OsUser } from './os-user.ts';
import { freePort, preferredPort } from './ports.ts';

const BIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../bin/pgwarden.js');

export type { ClusterNode, LocalClusterOptions, LocalNetwork, StatusDoc } from './cluster-types.ts';

export { REST_AUTH, SUPERUSER } from './node-document.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class LocalCluster {
  readonly nodes: ClusterNode[] = [];
  private readonly agents = new Map<string, ChildProcess>();
  private readonly user: OsUser | null;
  private etcd: EtcdHandle | null = null;
  private etcdPorts = { client: 0, peer: 0 };
  private restapiTls: RestapiTls | undefined;
  /** The agents' REST APIs as this harness reaches them (https with the cluster's files, if so). */
  rest = new ClusterRest(REST_AUTH, undefined);
  etcdEndpoint = '';

  constructor(private readonly opts: LocalClusterOptions) {
    this.user = lookupUser('postgres');
    if (isRoot() && !this.user)
      throw new Error('running as root needs a `postgres` OS user (install postgresql-15)');
  }

  private log(msg: string): void {
    this.opts.log?.(msg);
  }

  private own(path: string): void {
    if (isRoot() && this.user) chownSync(path, this.user.uid, this.user.gid);
  }

  async init(): Promise<void> {
    const dir = resolve(this.opts.dir);
    mkdirSync(dir, { recursive: true });
    this.own(dir);
    const pref = this.opts.preferDefaultPorts ?? false;
    if (this.opts.restapiTls) {
      this.restapiTls = installRestapiTls(this.opts.restapiTls, join(dir, 'tls'), (p) => this.own(p));
      this.rest = new ClusterRest(REST_AUTH, this.restapiTls);
    }
    if (this.opts.etcdEndpoints) {
      this.etcdEndpoint = this.opts.etcdEndpoints.join(',');
    } else {
      this.etcdPorts = { client: await preferredPort(pref ? 2379 : null), peer: await freePort() };
      await this.startEtcd();
    }
    for (let i = 0; i < this.opts.nodes; i++) {
      const name = `node${i + 1}`;
      const apiPort = await preferredPort(pref ? 8008 + i : null);
      const pgPort = await preferredPort(pref ? 5432 + i : null);
      const host = this.opts.network?.nodeHost(i) ?? '127.0.0.1';
      const node: ClusterNode = {
        name,
        index: i,
        host,
        apiPort,
        apiUrl: `${this.restapiTls ? 'https' : 'http'}://${host}:${apiPort}`,
        pgPort,
        dataDir: join(dir, name, 'data'),
        configFile: join(dir, `${name}.yml`),
        logFile: join(dir, `${name}.log`),
        journalFile: join(dir, `${name}.journal`),
        status: null,
      };
      mkdirSync(join(dir, name), { recursive: true, mode: 0o700 });
      this.own(join(dir, name));
      const doc = this.configFor(node);
      writeFileSync(node.configFile, stringify(this.opts.editConfig?.(node, doc) ?? doc));
      this.own(node.configFile);
      this.nodes.push(node);
    }
  }

  /** (Re)starts etcd on the cluster's ports with its data under the cluster dir. */
  async startEtcd(): Promise<void> {
    this.etcd = await startEtcd({
      dataDir: join(resolve(this.opts.dir), 'etcd'),
      clientPort: this.etcdPorts.client,
      peerPort: this.etcdPorts.peer,
      ...(this.opts.network
        ? { host: this.opts.network.etcdHost, prefix: this.opts.network.etcdPrefix ?? [] }
        : {}),
    });
    this.etcdEndpoint = this.etcd.endpoint;
  }

  /** Stops etcd and keeps its data: a DCS outage. */
  async stopEtcd(): Promise<void> {
    await this.etcd?.stop({ keepData: true });
    this.etcd = null;
  }

  /** A Patroni-style YAML document, exactly what a user would write. */
  configFor(node: ClusterNode): Record<string, unknown> {
    return nodeDocument(node, this.opts, this.etcdEndpoint, this.restapiTls);
  }

  node(name: string): ClusterNode {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  /** Starts (or restarts) one agent as the postgres OS user; output appends to its log. */
  startNode(name: string): void {
    const node = this.node(name);
    if (this.agents.has(name)) throw new Error(`${name} is already running`);
    const fd = openSync(node.logFile, 'a');
    const args = this.opts.agentArgv?.(node) ?? [
      process.execPath,
      ...AGENT_NODE_FLAGS,
      BIN,
      'node',
      node.configFile,
    ];
    if (this.opts.journal) args.push('--journal', node.journalFile);
    const [cmd, ...rest] = [
      ...(this.opts.network?.nodePrefix?.(node.index) ?? []),
      ...asUser(this.user, args),
    ];
    // spawns: setpriv env node (after a network prefix, whose program its caller names)
    const child = spawn(cmd!, rest, { stdio: ['ignore', fd, fd], detached: true });
    closeSync(fd);
    child.on('error', (err) => this.log(`${name}: ${err.message}`));
    child.on('exit', (code, signal) => {
      this.agents.delete(name);
      // Said in the node's log: an agent that ends without a word (a signal) is otherwise invisible.
      try {
        appendFileSync(
          node.logFile,
          `${new Date().toISOString()} ${name} agent process exited (code ${code}, signal ${signal})\n`,
        );
      } catch {
        // the directory is gone: the cluster is being removed
      }
    });
    this.agents.set(name, child);
  }

  async startAll(): Promise<void> {
    for (const n of this.nodes) this.startNode(n.name);
  }

  isRunning(name: string): boolean {
    return this.agents.has(name);
  }

  /** The agent process (asUser execs in place, so it is the child itself). */
  agentPid(name: string): number | null {
    return this.agents.get(name)?.pid ?? null;
  }

  /**
   * The node's postmaster, if postmaster.pid names the live one that wrote it: a file left by a
   * kill -9 names a PID that another test's process may have by now (pid_max is 32768 here), and
   * SIGKILL to it would kill that one; the same check as the agent's (livePostmaster).
   */
  postmasterPid(name: string): number | null {
    const file = join(this.node(name).dataDir, 'postmaster.pid');
    if (!existsSync(file)) return null;
    try {
      return livePostmaster(readFileSync(file, 'utf8'));
    } catch {
      return null;
    }
  }

  /** kill -9 of the agent and its postmaster: the whole node is gone at once. */
  async killNode(name: string): Promise<void> {
    const child = this.agents.get(name);
    const postmaster = this.postmasterPid(name);
    for (const pid of [child?.pid ?? null, postmaster]) {
      if (pid) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    if (child) await waitExit(child, 5000);
    this.agents.delete(name);
    // Children of the postmaster die with it, but give them a moment to release the port.
    const deadline = Date.now() + 5000;
    while (this.postmasterPid(name) !== null && Date.now() < deadline) await sleep(50);
  }

  /** kill -9 of the agent alone: its PostgreSQL keeps running (a primary stays writable). */
  async killAgent(name: string): Promise<void> {
    const child = this.agents.get(name);
    if (!child?.pid) return;
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    await waitExit(child, 5000);
    this.agents.delete(name);
  }

  /** SIGSTOP (true) or SIGCONT (false) of the agent alone. */
  freezeAgent(name: string, frozen: boolean): void {
    const pid = this.agentPid(name);
    if (pid) process.kill(pid, frozen ? 'SIGSTOP' : 'SIGCONT');
  }

  /** SIGTERM: the agent stops PostgreSQL and (as leader) releases the lock. */
  async stopNode(name: string, timeoutMs = 60_000): Promise<void> {
    const child = this.agents.get(name);
    if (!child) return;
    child.kill('SIGTERM');
    if (!(await waitExit(child, timeoutMs))) await this.killNode(name);
    this.agents.delete(name);
  }

  fetchStatus(node: ClusterNode): Promise<StatusDoc | null> {
    return this.rest.json<StatusDoc>(`${node.apiUrl}/patroni`);
  }

  async poll(): Promise<ClusterNode[]> {
    await Promise.all(
      this.nodes.map(async (n) => {
        n.status = this.isRunning(n.name) ? await this.fetchStatus(n) : null;
      }),
    );
    return this.nodes;
  }

  /** Name in the DCS leader key (via any node's GET /cluster). */
  async leader(): Promise<string | null> {
    for (const n of this.nodes) {
      if (!this.isRunning(n.name)) continue;
      const doc = await this.rest.json<{ members?: Array<{ name: string; role: string }> }>(
        `${n.apiUrl}/cluster`,
      );
      if (Array.isArray(doc?.members))
        return doc.members.find((m) => m.role === 'leader' || m.role === 'standby_leader')?.name ?? null;
    }
    return null;
  }

  /** Polls until `pred` holds over the nodes' statuses, or the deadline passes. */
  async waitFor(pred: (nodes: ClusterNode[]) => boolean, timeoutMs: number, everyMs = 250): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (pred(await this.poll())) return true;
      await sleep(everyMs);
    }
    return false;
  }

  /**
   * One writable leader and every other running node streaming from it — as both ends tell:
   * the leader's pg_stat_replication, and the replica's own answer (on the leader's timeline, and
   * its WAL receiver streaming where the agent says so; Patroni 3.0.2 has no replication_state).
   * The leader's side alone is not enough: it lists a WAL sender for a standby that is still
   * between timelines (its receiver not yet shown, replaying the old timeline's end), and a
   * failover to that standby is refused, rightly (it would fork the cluster's timeline).
   */
  static isReady(nodes: ClusterNode[], running: (n: ClusterNode) => boolean): boolean {
    const up = nodes.filter(running);
    const primaries = up.filter((n) => n.status?.role === 'master' && n.status.state === 'running');
    if (primaries.length !== 1) return false;
    const leader = primaries[0]!.status!;
    const streaming = leader.replication?.filter((r) => r.state === 'streaming') ?? [];
    return up.every(
      (n) =>
        n === primaries[0] ||
        (n.status?.role === 'replica' &&
          n.status.state === 'running' &&
          n.status.timeline === leader.timeline &&
          (n.status.replication_state === undefined || n.status.replication_state === 'streaming') &&
          streaming.some((r) => r.application_name === n.name)),
    );
  }

  async waitUntilReady(o: {
    timeoutMs: number;
    onProgress?: (nodes: ClusterNode[]) => void;
  }): Promise<boolean> {
    let last = '';
    return this.waitFor((nodes) => {
      const line = nodes.map((n) => `${n.status?.role}/${n.status?.state}`).join(',');
      if (line !== last) {
        last = line;
        o.onProgress?.(nodes);
      }
      return LocalCluster.isReady(nodes, (n) => this.isRunning(n.name));
    }, o.timeoutMs);
  }

  /** libpq multi-host string that always lands on the writable node. */
  connectionString(): string {
    const hosts = this.nodes.map((n) => n.host).join(',');
    const ports = this.nodes.map((n) => n.pgPort).join(',');
    return `host=${hosts} port=${ports} user=${SUPERUSER.username} password=${SUPERUSER.password} dbname=postgres target_session_attrs=read-write connect_timeout=2`;
  }

  /** Stops every agent (replicas first, so the leader does not fail over to a stopping node), then etcd. */
  async stop(): Promise<void> {
    const leader = await this.leader().catch(() => null);
    const order = [
      ...this.nodes.filter((n) => n.name !== leader),
      ...this.nodes.filter((n) => n.name === leader),
    ];
    for (const n of order) await this.stopNode(n.name, 30_000).catch(() => this.killNode(n.name));
    // Anything left behind (an agent that died uncleanly): no postmaster may outlive the cluster.
    for (const n of this.nodes) {
      const pid = this.postmasterPid(n.name);
      if (pid) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
    await this.etcd?.stop();
  }
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((res) => {
    const t = setTimeout(() => res(false), ms);
    child.once('exit', () => {
      clearTimeout(t);
      res(true);
    });
  });
}

export async function startLocalCluster(opts: LocalClusterOptions): Promise<LocalCluster> {
  const c = new LocalCluster(opts);
  await c.init();
  await c.startAll();
  return c;
}
