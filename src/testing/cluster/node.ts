/**
 * One node of a simulated cluster: the production Agent (started, killed, restarted, frozen
 * like a process), its connection to the shared in-memory etcd (cut or flaky like a network),
 * its simulated PostgreSQL behind the failure-injecting seam, and its REST API answered in
 * process. What it sees and does is recorded on the cluster for the invariants.
 */

import type { LightMyRequestResponse } from 'fastify';
import { Journal } from '../../actors/journal.ts';
import { KvDcs } from '../../actors/kv-dcs/index.ts';
import { DeviceWatchdog } from '../../actors/watchdog/device.ts';
import { Agent } from '../../agent.ts';
import { type NodeReport, statusDocument } from '../../cluster/report.ts';
import type { NodeConfig } from '../../config/types.ts';
import { borrowApi, type LentApi, returnApi } from '../api-pool.ts';
import { NodeClock } from '../node-clock.ts';
import { type DcsFlakiness, NodeKv } from '../node-kv.ts';
import { seededRandom } from '../random.ts';
import { provideShared } from '../shared-machine.ts';
import type { SimulatedPostgres } from '../simulated-postgres/index.ts';
import type { SimulatedCluster } from './cluster.ts';
import { FAILING_OPERATIONS, type FailingOperation, gatedPostgres } from './gated-postgres.ts';
import { settle } from './settle.ts';
import type { RestMethod, RestResponse, ScheduledDue } from './types.ts';

interface NodeApi {
  lent: LentApi;
  agent: Agent;
  inflight: number;
  retired: boolean;
}

export class SimulatedNode {
  agent: Agent | null = null;
  /** The node's journal, with SimulatedClusterOptions.journals (every agent start appends to it). */
  readonly journal: Journal | undefined;
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
    this.journal = cluster.journals
      ? new Journal({ clock: this.clock, capacity: Number.MAX_SAFE_INTEGER })
      : undefined;
    this.flakyRandom = seededRandom(cluster.seed * 7919 + Number(name.replace(/\D/g, '') || 0) * 104_729);
  }

  /** The agent process is up (possibly frozen). */
  alive(): boolean {
    return !this.isDead;
  }

  frozen(): boolean {
    return this.clock.isFrozen();
  }

  stoppingPostgres(): boolean {
    return !this.isDead && this.agent?.actor.getSnapshot().context.pgState === 'stopping';
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

  /** GET /patroni as its route answers it: the PostgreSQL sample freshened first (≤ 1 s old). */
  async freshStatus(): Promise<Record<string, unknown> | null> {
    const agent = this.agent;
    if (this.isDead || !agent) return null;
    await agent.apiContext().freshStatus?.();
    return agent === this.agent ? this.status() : null;
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
    const bare = path.split('?')[0];
    const candidate = (body as { candidate?: unknown } | undefined)?.candidate;
    if (
      method === 'POST' &&
      (bare === '/switchover' || bare === '/failover') &&
      typeof candidate === 'string'
    )
      this.cluster.requestedCandidates.add(candidate);
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
    // Watched: a release of the lock while PostgreSQL still accepts writes (see writableReleases).
    const deleteLeader = dcs.deleteLeader.bind(dcs);
    dcs.deleteLeader = async (name, lastLsn) => {
      const released = await deleteLeader(name, lastLsn);
      const paused = this.agent?.actor.getSnapshot().context.settings.paused === true;
      if (released && this.postgres.writable() && !paused) {
        this.cluster.writableReleases.push({ node: this.name, at: this.cluster.clock.now() });
      }
      return released;
    };
    // The agent object being made: only it (alive, not frozen) writes to the device.
    const agentCanAct = () => this.agent === agent && !this.isDead && !this.frozen();
    const agent: Agent = new Agent({
      config: this.config,
      dcs,
      postgres: gatedPostgres(this.postgres, this.clock, this.failures, () => this.recordRemoval()),
      clock: this.clock,
      serveApi: false,
      pgPollMs: this.cluster.pgPollMs,
      log: (msg) => this.cluster.logLine(this.name, msg),
      gossipDialer: this.cluster.gossip.dialer(this),
      fetchPeer: (member, timeoutMs) =>
        this.clock.gate(this.cluster.peerStatus(this.name, member, timeoutMs)),
      postFailsafe: (apiUrl, body, timeoutMs) =>
        this.clock.gate(this.cluster.postFailsafe(this.name, apiUrl, body, timeoutMs)),
      inspect: this.cluster.inspect,
      journal: this.journal,
      provide: provideShared,
      watchdog: this.watchdog(agentCanAct),
    });
    this.agent = agent;
    let last = '';
    let verdict: unknown = null;
    agent.actor.subscribe((snap) => {
      if (this.agent !== agent) return;
      const c = snap.context;
      if (c.election.verdict !== verdict) {
        verdict = c.election.verdict;
        if (c.election.verdict?.healthiest) this.cluster.noteRaceVerdict(this);
      }
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

  /** The agent's watchdog: the node's simulated device, or (none configured) a host without one. */
  private watchdog(canAct: () => boolean): DeviceWatchdog {
    const device = this.cluster.watchdogs?.devices.get(this.name);
    const log = (msg: string) => this.cluster.logLine(this.name, msg);
    if (!device) return new DeviceWatchdog({ log, usable: () => false });
    return new DeviceWatchdog({ log, usable: () => true, driverFor: () => device.driver(canAct) });
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
