/**
 * A whole pgwarden cluster in one process and in virtual time: the production Agents (and
 * through them the production machines), each on its own connection to one in-memory etcd,
 * each with a simulated PostgreSQL, asking each other for status in memory, all on one
 * SimulatedClock. Tests advance time, inject faults and look at what the nodes report.
 */
import type { LightMyRequestResponse } from 'fastify';
import { type InspectionEvent, SimulatedClock } from 'xstate';
import { KvDcs } from '../actors/kv-dcs.ts';
import { MemoryEtcd } from '../actors/memory-dcs.ts';
import type { Postgres } from '../actors/postgres.ts';
import { Agent } from '../agent.ts';
import type { PeerStatus } from '../cluster/eligibility.ts';
import { type NodeReport, statusDocument } from '../cluster/report.ts';
import type { ClusterView, Member } from '../cluster/view.ts';
import { parseConfigText } from '../config/load.ts';
import type { NodeConfig } from '../config/types.ts';
import { parsePeerDocument } from '../transport/peer-client.ts';
import { borrowApi, type LentApi, returnApi } from './api-pool.ts';
import { NodeClock } from './node-clock.ts';
import { type DcsFlakiness, NodeKv } from './node-kv.ts';
import { seededRandom } from './random.ts';
import { provideShared } from './shared-machine.ts';
import { incrementClock } from './sim-clock.ts';
import {
  type Commit,
  type SimulatedPostgres,
  SimulatedWorld,
  type SimulatedWorldOptions,
} from './simulated-postgres/index.ts';

export interface SimulatedClusterOptions {
  /** Number of nodes, named node1..nodeN (default 3). */
  nodes?: number;
  /** Seeds every random choice of the simulation (default 1). */
  seed?: number;
  scope?: string;
  /** bootstrap.dcs (ttl, loop_wait, retry_timeout, synchronous_mode, ...), over small defaults. */
  dcs?: Record<string, unknown>;
  /** Tags per node (e.g. `{ nofailover: true }`). */
  tags?: (index: number, name: string) => Record<string, unknown>;
  /** More of each node's local `postgresql` section (e.g. remove_data_directory_on_rewind_failure). */
  localPostgresql?: Record<string, unknown>;
  /** Simulated PostgreSQL: operation durations, replication speed. */
  postgres?: Partial<
    Pick<
      SimulatedWorldOptions,
      'durations' | 'bytesPerTick' | 'tickMs' | 'walSenders' | 'checkpointTimelineWhenNotStreaming'
    >
  >;
  /** Virtual ms per step of advance() (default 100). */
  stepMs?: number;
  /** How often each agent samples PostgreSQL (default 1000 ms). */
  pgPollMs?: number;
  /** Every agent log line, prefixed with the virtual time and node name. */
  log?: (line: string) => void;
  /** An XState inspector given to every agent's actors (e.g. StateCoverage.inspect). */
  inspect?: (ev: InspectionEvent) => void;
}

/** A change of a node's role, PostgreSQL state or leadership, at a virtual time. */
export interface ClusterEvent {
  at: number;
  node: string;
  role: string;
  state: string;
  isLeader: boolean;
}

/** A scheduler said its action is due: a scheduled restart or switchover. */
export interface ScheduledDue {
  node: string;
  scheduler: 'restart' | 'switchover';
  id: string;
  /** When it was scheduled for, and the node's own clock reading when it came due (epoch ms). */
  atMs: number;
  localNow: number;
}

export interface NodeSummary {
  name: string;
  agent: 'running' | 'dead' | 'frozen';
  role: string | null;
  state: string | null;
  isLeader: boolean;
  postgres: 'primary' | 'replica' | 'stopped';
  timeline: number | null;
  lsn: number | null;
  streaming: boolean;
}

interface NodeApi {
  lent: LentApi;
  agent: Agent;
  inflight: number;
  retired: boolean;
}

/** The name client connections come from (see reject). */
const CLIENT = 'client';

export type RestMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD' | 'OPTIONS';

export interface RestResponse {
  status: number;
  body: string;
  /** The body parsed as JSON (undefined when it is text). */
  json: unknown;
}

export interface WriteOutcome {
  acknowledged: boolean;
  state: Commit['state'];
  node: string | null;
  lsn: number;
  timeline: number | null;
  /** The commit itself (null: rejected before reaching a primary); its state moves on later. */
  commit: Commit | null;
}

const DEFAULT_DCS = {
  ttl: 30,
  loop_wait: 10,
  retry_timeout: 10,
  maximum_lag_on_failover: 1048576,
  postgresql: { use_pg_rewind: true, use_slots: true, parameters: {} },
};

/** Let resolved promises run (every step is microtasks plus at most a queueMicrotask hop). */
async function settle(rounds = 2): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

/** A setImmediate callback is waiting to run. */
function immediateQueued(): boolean {
  return process.getActiveResourcesInfo().includes('Immediate');
}

export class SimulatedNode {
  agent: Agent | null = null;
  readonly clock: NodeClock;
  private kv: NodeKv | null = null;
  private isDead = true;
  /** Virtual ms the agent was last started at, and last thawed at (SIGCONT). */
  startedAt = 0;
  thawedAt = Number.NEGATIVE_INFINITY;
  private dcsCut = false;
  /** A flaky connection to etcd (null: a good one). Survives agent restarts: it is the network. */
  private flakiness: DcsFlakiness | null = null;
  private readonly flakyRandom: () => number;
  /** The REST API lent to the current agent (see request). */
  private api: NodeApi | null = null;
  /** Injected failures still to come, per Postgres method. */
  private readonly failures = new Map<string, number>();

  constructor(
    private readonly cluster: SimulatedCluster,
    readonly name: string,
    readonly config: NodeConfig,
    readonly postgres: SimulatedPostgres,
  ) {
    this.clock = new NodeClock(cluster.clock);
    this.flakyRandom = seededRandom(cluster.seed * 7919 + Number(name.replace(/\D/g, '') || 0) * 104_729);
  }

  /** The agent process is up (possibly frozen). */
  alive(): boolean {
    return !this.isDead;
  }

  frozen(): boolean {
    return this.clock.isFrozen();
  }

  cutFromDcs(): boolean {
    return this.dcsCut;
  }

  /** What the agent says about itself (null while it is dead). */
  report(): NodeReport | null {
    return this.isDead ? null : (this.agent?.report() ?? null);
  }

  /** GET /patroni, as the agent would answer it (null while it is dead). */
  status(): Record<string, unknown> | null {
    const r = this.report();
    return r ? statusDocument(r) : null;
  }

  /**
   * A request to this node's REST API, answered by the production routes in process (no
   * socket): `request('POST', '/switchover', { leader: 'node1' })`. Its waits run in virtual
   * time, so the answer comes while the cluster advances (see SimulatedCluster.rest). A dead
   * agent refuses the connection (the promise rejects); a frozen one answers after thaw.
   */
  async request(method: RestMethod, path: string, body?: unknown): Promise<RestResponse> {
    const agent = this.agent;
    if (this.isDead || !agent) throw new Error(`${this.name}: connection refused (the agent is not running)`);
    // One pooled API per agent process: a request keeps talking to the agent it reached, also
    // after that agent died, as it would to its process; the API goes back once idle.
    if (this.api?.agent !== agent) {
      if (this.api) this.retire(this.api);
      const lent = borrowApi(agent.apiContext());
      this.api = { lent, agent, inflight: 0, retired: false };
    }
    const held = this.api;
    held.inflight++;
    // What the operator asked of this node; the invariant on data removals reads it.
    const asked =
      method === 'POST' && path.split('?')[0] === '/reinitialize'
        ? { node: this.name, at: this.cluster.clock.now(), status: null as number | null }
        : null;
    if (asked) this.cluster.reinitializeRequests.push(asked);
    let res: LightMyRequestResponse;
    try {
      const app = await this.clock.gate(held.lent.app);
      res = await this.clock.gate(
        app.inject({
          method,
          url: path,
          ...(body === undefined
            ? {}
            : { payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
        }),
      );
    } finally {
      held.inflight--;
      if (held.retired && held.inflight === 0) returnApi(held.lent);
    }
    if (asked) asked.status = res.statusCode;
    let json: unknown;
    try {
      json = JSON.parse(res.body);
    } catch {
      json = undefined;
    }
    return { status: res.statusCode, body: res.body, json };
  }

  /** @internal At the end of the simulation: the API goes back to the pool. */
  releaseApi(): void {
    if (this.api) this.retire(this.api);
  }

  /** @internal The agent's API goes back to the pool (once its requests are answered). */
  retire(api: NodeApi): void {
    if (api.retired) return;
    api.retired = true;
    if (this.api === api) this.api = null;
    if (api.inflight === 0) returnApi(api.lent);
  }

  /**
   * SIGTERM: the agent stops PostgreSQL (unless paused), releases the leader key and exits.
   * Resolves once it has (virtual time must advance meanwhile); the node is then dead.
   */
  async shutdown(): Promise<void> {
    const agent = this.agent;
    if (this.isDead || !agent) return;
    await agent.stop();
    if (this.agent !== agent) return;
    await this.killAgent();
  }

  /** Start the agent (again); PostgreSQL is left as it is. */
  start(): void {
    if (!this.isDead) throw new Error(`${this.name} is already running`);
    this.isDead = false;
    this.startedAt = this.cluster.clock.now();
    this.clock.thaw();
    const kv = new NodeKv(this.cluster.store, this.clock, {
      dead: () => this.isDead,
      cutFromDcs: () => this.dcsCut || !this.cluster.store.isAvailable(),
      flaky: () => this.flakiness,
    });
    this.kv = kv;
    const dcs = new KvDcs(kv, {
      namespace: this.config.namespace,
      scope: this.config.scope,
      retryTimeoutSeconds: Number(this.config.bootstrap.dcs['retry_timeout'] ?? 10),
      clock: this.clock,
    });
    const agent = new Agent({
      config: this.config,
      dcs,
      postgres: gatedPostgres(this.postgres, this.clock, this.failures, () => this.recordRemoval()),
      clock: this.clock,
      serveApi: false,
      pgPollMs: this.cluster.pgPollMs,
      log: (msg) => this.cluster.logLine(this.name, msg),
      probePeers: (view, me) => this.clock.gate(this.cluster.probePeers(view, me)),
      fetchPeer: (member) => this.clock.gate(this.cluster.peerStatus(this.name, member)),
      inspect: this.cluster.inspect,
      provide: provideShared,
    });
    this.agent = agent;
    let last = '';
    agent.actor.subscribe((snap) => {
      if (this.agent !== agent) return;
      const c = snap.context;
      // Holding the lock, the agent may promote: from then on it counts the data directory as an
      // old primary's, whatever happened (see no-needless-rewind).
      if (c.isLeader && this.postgres.data) this.postgres.data.mayHaveForked = true;
      const key = `${c.role}/${c.pgState}/${c.isLeader}`;
      if (key === last) return;
      last = key;
      this.cluster.events.push({
        at: this.cluster.clock.now(),
        node: this.name,
        role: c.role,
        state: c.pgState,
        isLeader: c.isLeader,
      });
    });
    const recordDue = (scheduler: ScheduledDue['scheduler']) => (e: { id: string; atMs: number }) => {
      if (this.agent !== agent) return;
      this.cluster.scheduledDue.push({
        node: this.name,
        scheduler,
        id: e.id,
        atMs: e.atMs,
        localNow: this.clock.now(),
      });
    };
    agent.scheduler('restart').on('due', recordDue('restart'));
    agent.scheduler('switchover').on('due', recordDue('switchover'));
    agent.start().catch((err) => this.cluster.logLine(this.name, `agent start failed: ${err}`));
    // As `pgwarden node` does: when the node machine stops (failed, or shut down) the process
    // exits, and the node is down until something starts it again.
    void agent.finished().then(() => {
      if (this.agent === agent && !this.isDead) void this.killAgent();
    });
  }

  /** The whole node goes down at once (power off): the agent and the postmaster die. */
  async kill(): Promise<void> {
    this.postgres.crash();
    await this.killAgent();
  }

  /** Only the agent dies (kill -9); PostgreSQL keeps running as it was. */
  async killAgent(): Promise<void> {
    if (this.isDead) return;
    this.isDead = true;
    const agent = this.agent;
    this.clock.thaw();
    this.kv?.breakWatches();
    await agent?.close();
    await settle();
  }

  /** Start the agent again after kill() or killAgent(). */
  async restart(): Promise<void> {
    if (!this.isDead) await this.killAgent();
    this.start();
    await settle();
  }

  /** The postmaster dies (kill -9); the agent notices at its next status sample. */
  crashPostgres(): void {
    this.postgres.crash();
  }

  /** @internal The agent removes this node's data directory: recorded when it held a cluster. */
  recordRemoval(): void {
    const wal = this.postgres.wal();
    if (!wal || this.postgres.proc) return;
    this.cluster.dataRemovals.push({
      node: this.name,
      at: this.cluster.clock.now(),
      timeline: wal.timeline,
      lsn: wal.lsn,
    });
  }

  /** The agent's next `times` calls of `op` fail (initdb out of disk, pg_ctl start failing, ...). */
  failNext(op: FailingOperation, times = 1): void {
    const method = FAILING_OPERATIONS[op];
    this.failures.set(method, (this.failures.get(method) ?? 0) + times);
  }

  /** SIGSTOP the agent: no timers, no I/O results until thaw(); PostgreSQL keeps running. */
  freeze(): void {
    this.clock.freeze();
  }

  thaw(): void {
    if (this.clock.isFrozen()) this.thawedAt = this.cluster.clock.now();
    this.clock.thaw();
  }

  /**
   * A flaky connection to etcd: `percent` % of this node's calls (range, put, txn, delete, lease
   * grant, keepalive, revoke) fail — half before etcd applied them, half after (the answer is
   * lost) — with the errors the real client path produces, and as many watch deliveries break
   * the watch; every call waits up to `latencyMs` more. Which calls fail is drawn from the seed.
   * 0 and 0 end it.
   */
  setDcsFlaky(percent: number, latencyMs = 0): void {
    this.flakiness =
      percent > 0 || latencyMs > 0
        ? { rate: Math.min(100, percent) / 100, latencyMs, random: this.flakyRandom }
        : null;
  }

  dcsFlaky(): DcsFlakiness | null {
    return this.flakiness;
  }

  /** Cut this node off from the DCS (true) or reconnect it (false). */
  setDcsReachable(reachable: boolean): void {
    this.dcsCut = !reachable;
    if (!reachable) this.kv?.breakWatches();
  }
}

/** PostgreSQL operations an injected failure can hit, by the agent's name for them. */
export const FAILING_OPERATIONS = {
  inspect: 'dataDir',
  initdb: 'initdb',
  clone: 'basebackup',
  start: 'start',
  stop: 'stop',
  promote: 'promote',
  follow: 'follow',
  rewind: 'rewind',
  remove: 'removeDataDir',
  checkpoint: 'checkpoint',
} as const satisfies Record<string, keyof Postgres>;
export type FailingOperation = keyof typeof FAILING_OPERATIONS;

/**
 * The agent's view of its SimulatedPostgres: results reach a frozen agent only after thaw, and
 * an operation with an injected failure rejects (without doing anything) instead of running.
 */
function gatedPostgres(
  pg: SimulatedPostgres,
  clock: NodeClock,
  failures: Map<string, number>,
  onRemove: () => void,
): Postgres {
  return new Proxy(pg, {
    get(target, key) {
      const v = Reflect.get(target, key, target);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        const left = typeof key === 'string' ? (failures.get(key) ?? 0) : 0;
        if (left > 0) {
          failures.set(key as string, left - 1);
          return clock.gate(Promise.reject(new Error(`simulated failure of ${String(key)}`)));
        }
        if (key === 'removeDataDir') onRemove();
        const r = (v as (...a: unknown[]) => unknown).apply(target, args);
        return r instanceof Promise ? clock.gate(r) : r;
      };
    },
  }) as Postgres;
}

export class SimulatedCluster {
  readonly clock: SimulatedClock;
  readonly store: MemoryEtcd;
  readonly world: SimulatedWorld;
  readonly nodes: SimulatedNode[] = [];
  readonly events: ClusterEvent[] = [];
  readonly scheduledDue: ScheduledDue[] = [];
  /** Every removal by an agent of its data directory while it held a cluster (not by hand). */
  readonly dataRemovals: Array<{ node: string; at: number; timeline: number; lsn: number }> = [];
  /** Every POST /reinitialize sent to a node: when, and its answer's status (null: none yet). */
  readonly reinitializeRequests: Array<{ node: string; at: number; status: number | null }> = [];
  readonly logs: string[] = [];
  /**
   * Timelines (segment ids) created by a promotion that completed while the promoting node could
   * not reach etcd: nobody else can learn of them (no /history, no member key, no WAL archive in
   * the model), so the next leader may fork a timeline of the same number, and a replica that
   * streamed the unrecorded one stays diverged (see clusterNotHealed).
   */
  readonly unrecordedPromotions = new Set<number>();
  readonly pgPollMs: number;
  readonly inspect: ((ev: InspectionEvent) => void) | undefined;
  readonly seed: number;
  private readonly stepMs: number;
  private readonly prefix: string;
  private started = false;

  constructor(private readonly opts: SimulatedClusterOptions = {}) {
    this.clock = new SimulatedClock();
    this.seed = opts.seed ?? 1;
    this.store = new MemoryEtcd({ clock: this.clock });
    this.world = new SimulatedWorld({
      clock: this.clock,
      seed: opts.seed ?? 1,
      ...opts.postgres,
    });
    this.world.onPromote = (p) => {
      const n = this.nodes.find((x) => x.name === p.node);
      if (n && (n.cutFromDcs() || !this.store.isAvailable())) this.unrecordedPromotions.add(p.segment);
    };
    this.stepMs = opts.stepMs ?? 100;
    this.pgPollMs = opts.pgPollMs ?? 1000;
    this.inspect = opts.inspect;
    const scope = opts.scope ?? 'sim';
    const dcs = { ...DEFAULT_DCS, ...opts.dcs };
    const count = opts.nodes ?? 3;
    for (let i = 0; i < count; i++) {
      const name = `node${i + 1}`;
      const config = parseConfigText(
        JSON.stringify({
          name,
          scope,
          restapi: { listen: `${name}:8008`, connect_address: `${name}:8008` },
          etcd3: { hosts: ['simulated-etcd:2379'] },
          bootstrap: { dcs },
          postgresql: {
            listen: `${name}:5432`,
            connect_address: `${name}:5432`,
            data_dir: `/simulated/${name}/data`,
            authentication: {
              superuser: { username: 'postgres', password: 'simulated' },
              replication: { username: 'replicator', password: 'simulated' },
            },
            ...opts.localPostgresql,
          },
          tags: opts.tags?.(i, name) ?? {},
        }),
      );
      this.nodes.push(new SimulatedNode(this, name, config, this.world.add(name, name, 5432)));
    }
    this.prefix = `${this.nodes[0]?.config.namespace ?? '/service/'}${scope}/`;
  }

  /** @internal */
  logLine(node: string, msg: string): void {
    const line = `${(this.clock.now() / 1000).toFixed(1)}s ${node}: ${msg}`;
    this.logs.push(line);
    this.opts.log?.(line);
  }

  /** Start every agent (empty data directories: they race to bootstrap). */
  async start(): Promise<void> {
    if (this.started) throw new Error('the cluster is already started');
    this.started = true;
    for (const n of this.nodes) n.start();
    await settle();
  }

  /** Virtual time since the start, ms. */
  now(): number {
    return this.clock.now();
  }

  /**
   * Advance virtual time by ms, in small steps, letting every resulting promise run. `each`, if
   * given, runs after every step and must only look (start nothing); false stops early.
   */
  async advance(ms: number, each?: () => boolean): Promise<void> {
    let settled = false;
    for (let t = 0; t < ms; t += this.stepMs) {
      const finished = this.world.finishedCommits;
      const ran = incrementClock(this.clock, Math.min(this.stepMs, ms - t), this.world.tickTimer());
      // Settling is most of a step's cost, and it is left out exactly when it would run nothing:
      // we settled before, only `each` looked since, no timer but the replication tick fired
      // (synchronous), no commit finished (someone may await it) and no setImmediate is queued
      // (in-process REST requests hop through some).
      if (!settled || ran !== 0 || this.world.finishedCommits !== finished || immediateQueued()) {
        await settle();
        settled = true;
      }
      if (each && !each()) return;
    }
  }

  /**
   * Advance until predicate holds; resolves with the virtual ms it took. Throws, describing
   * every node, when it does not hold within maxMs.
   */
  async until(predicate: () => boolean, maxMs: number): Promise<number> {
    const start = this.clock.now();
    for (;;) {
      if (predicate()) return this.clock.now() - start;
      if (this.clock.now() - start >= maxMs) {
        throw new Error(
          `condition not met within ${maxMs} ms of virtual time:\n${this.summary()
            .map((s) => JSON.stringify(s))
            .join('\n')}`,
        );
      }
      await this.advance(this.stepMs);
    }
  }

  /**
   * Advances virtual time until `work` settles (at most maxMs) and answers its outcome; throws
   * when it is still pending by then.
   */
  async waitFor<T>(work: Promise<T>, maxMs = 60_000): Promise<T> {
    let done = false;
    const tracked = work.finally(() => {
      done = true;
    });
    tracked.catch(() => {});
    await settle();
    const start = this.clock.now();
    while (!done) {
      if (this.clock.now() - start >= maxMs)
        throw new Error(`still pending after ${maxMs} ms of virtual time`);
      await this.advance(this.stepMs);
    }
    return tracked;
  }

  /** A REST request to node `name`, with virtual time advancing until the answer (see request). */
  rest(
    name: string,
    method: RestMethod,
    path: string,
    body?: unknown,
    maxMs = 60_000,
  ): Promise<RestResponse> {
    return this.waitFor(this.node(name).request(method, path, body), maxMs);
  }

  /** The member a /failover request names (null: none pending). */
  failoverCandidate(): string | null {
    const raw = this.store.get(`${this.prefix}failover`)?.value;
    if (!raw) return null;
    try {
      const f = JSON.parse(raw) as { member?: unknown };
      return typeof f.member === 'string' && f.member !== '' ? f.member : null;
    } catch {
      return null;
    }
  }

  /** The dynamic configuration in /config (null: none yet). */
  dynamicConfig(): Record<string, unknown> | null {
    const raw = this.store.get(`${this.prefix}config`)?.value;
    if (!raw) return null;
    try {
      return JSON.parse(raw) as Record<string, unknown>;
    } catch {
      return null;
    }
  }

  node(name: string): SimulatedNode {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node named ${name}`);
    return n;
  }

  /** Who holds /leader in the DCS (null: nobody). */
  leader(): string | null {
    return this.store.get(`${this.prefix}leader`)?.value ?? null;
  }

  /** The synchronous standbys that /sync names (synchronous_mode). */
  synchronousStandbys(): string[] {
    return this.syncState()?.standbys ?? [];
  }

  /** /sync: the leader it was written by and the standbys it names (null: no key). */
  syncState(): { leader: string | null; standbys: string[] } | null {
    const raw = this.store.get(`${this.prefix}sync`)?.value;
    if (!raw) return null;
    const s = JSON.parse(raw) as { leader?: string | null; sync_standby?: string | null };
    return {
      leader: s.leader ?? null,
      standbys: s.sync_standby ? s.sync_standby.split(',').filter((x) => x !== '') : [],
    };
  }

  /** Nodes whose PostgreSQL accepts writes. */
  primaries(): string[] {
    return this.nodes.filter((n) => n.postgres.writable()).map((n) => n.name);
  }

  /** Nodes whose PostgreSQL streams from an upstream. */
  streamingReplicas(): string[] {
    return this.nodes
      .filter((n) => n.postgres.running() && n.postgres.proc?.role === 'standby' && n.postgres.proc.connected)
      .map((n) => n.name);
  }

  summary(): NodeSummary[] {
    return this.nodes.map((n) => {
      const r = n.report();
      const pg = n.postgres;
      const wal = pg.wal();
      return {
        name: n.name,
        agent: !n.alive() ? 'dead' : n.frozen() ? 'frozen' : 'running',
        role: r?.role ?? null,
        state: r?.state ?? null,
        isLeader: r?.isLeader ?? false,
        postgres: !pg.running() ? 'stopped' : pg.writable() ? 'primary' : 'replica',
        timeline: wal?.timeline ?? null,
        lsn: wal?.lsn ?? null,
        streaming: pg.proc?.connected ?? false,
      };
    });
  }

  /**
   * A client writes bytes through the current leader's PostgreSQL and waits (advancing virtual
   * time, up to waitMs) for the commit to be acknowledged.
   */
  async write(bytes = 100, waitMs = 5000): Promise<WriteOutcome> {
    const leader = this.leader();
    const target = leader && this.node(leader).postgres.writable() ? leader : null;
    if (!target)
      return { acknowledged: false, state: 'rejected', node: null, lsn: -1, timeline: null, commit: null };
    const commit = this.world.write(target, bytes);
    await settle();
    const start = this.clock.now();
    while (commit.state === 'waiting' && this.clock.now() - start < waitMs) await this.advance(this.stepMs);
    return {
      acknowledged: commit.state === 'acknowledged',
      state: commit.state,
      node: target,
      lsn: commit.lsn,
      timeline: commit.timeline,
      commit,
    };
  }

  /**
   * A client outside the cluster can open a connection to `name`'s PostgreSQL and it accepts
   * writes: what a libpq multi-host string with target_session_attrs=read-write looks for. Client
   * connections are refused only by a node that refuses everybody (`reject(name, null)`).
   */
  acceptsClientWrites(name: string): boolean {
    return this.node(name).postgres.writable() && this.world.accepts(name, CLIENT);
  }

  /**
   * A client commits on `name` itself, whatever the DCS says (an application with that node's
   * address): rejected unless it accepts writes. Not waited for; the Commit tells the outcome.
   */
  writeTo(name: string, bytes = 100): Commit {
    return this.world.write(name, bytes, !this.world.accepts(name, CLIENT));
  }

  /** DCS faults: the whole etcd unavailable, or slow. */
  get dcs() {
    const store = this.store;
    return {
      setAvailable: (available: boolean) => store.setAvailable(available),
      setLatency: (ms: number) => {
        store.latencyMs = ms;
      },
      store,
    };
  }

  /** a and b cannot reach each other (REST and replication); both still reach the DCS. */
  partition(a: string, b: string): void {
    this.world.cut(a, b);
  }

  heal(a: string, b: string): void {
    this.world.heal(a, b);
  }

  /**
   * `name` stays alive but refuses connections — REST and PostgreSQL — from `from` (every other
   * node when null): a firewall REJECT rule, a Service without ready endpoints. Peers see
   * "connection refused", as from a dead host; etcd is not affected.
   */
  reject(name: string, from: string | null): void {
    for (const n of this.nodes)
      if (n.name !== name && (from === null || n.name === from)) this.world.refuse(name, n.name);
    if (from === null) this.world.refuse(name, CLIENT);
  }

  /** `name` accepts connections again. */
  accept(name: string): void {
    this.world.unrefuse(name);
  }

  /** Cut one node off from every other node and from the DCS. */
  isolate(name: string): void {
    for (const n of this.nodes) if (n.name !== name) this.world.cut(name, n.name);
    this.node(name).setDcsReachable(false);
  }

  /** Every partition healed, every node reaches the DCS again. */
  healAll(): void {
    this.world.healAll();
    for (const n of this.nodes) {
      n.setDcsReachable(true);
      n.setDcsFlaky(0, 0);
    }
  }

  /** Acknowledged writes that the current leader's data does not contain. */
  lostWrites(): Commit[] {
    const leader = this.leader();
    return leader ? this.world.lostWrites(leader) : [];
  }

  // ---- in-memory peer transport ----------------------------------------------------------------

  /** @internal GET /patroni of `member`, asked by `from`. */
  async peerStatus(from: string, member: Member): Promise<PeerStatus> {
    const unreachable: PeerStatus = {
      name: member.name,
      reachable: false,
      inRecovery: true,
      walPosition: null,
      timeline: null,
      nofailover: member.data.tags?.nofailover === true,
      watchdogFailed: false,
    };
    const peer = this.nodes.find((n) => n.name === member.name);
    // Connection refused: nobody listens, or a REJECT rule answers for a live node.
    if (!peer?.alive() || (this.world.linked(from, peer.name) && !this.world.accepts(peer.name, from)))
      return unreachable;
    // No answer: the 2 s client timeout runs out.
    if (peer.frozen() || !this.world.linked(from, peer.name)) {
      await this.world.sleep(2000);
      return unreachable;
    }
    const doc = peer.status();
    return (doc && parsePeerDocument(member.name, doc)) ?? unreachable;
  }

  /** @internal */
  probePeers(view: ClusterView, me: string): Promise<PeerStatus[]> {
    const others = view.members.filter((m) => m.name !== me && m.data.api_url);
    return Promise.all(others.map((m) => this.peerStatus(me, m)));
  }

  /** Close every agent (no clean shutdown) and stop the simulation. */
  async stop(): Promise<void> {
    for (const n of this.nodes) {
      await n.killAgent();
      n.releaseApi();
    }
    this.world.dispose();
  }
}

/** A simulated cluster (not started yet: call start()). */
export function createSimulatedCluster(opts: SimulatedClusterOptions = {}): SimulatedCluster {
  return new SimulatedCluster(opts);
}
