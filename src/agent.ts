/**
 * One pgwarden node at run time: the node machine wired to its I/O actors (DCS, PostgreSQL,
 * peers, REST) and to the observations that feed it (DCS watch, PostgreSQL status).
 *
 * The same Agent runs on real etcd + PostgreSQL in production and on the in-memory DCS and
 * simulated PostgreSQL in tests; only the Dcs and Postgres objects differ.
 */

import type { FastifyInstance } from 'fastify';
import { type AnyActorRef, createActor, fromPromise, type InspectionEvent } from 'xstate';
import { type Clock, systemClock } from './actors/clock.ts';
import type { Dcs } from './actors/dcs.ts';
import { definitionsHash, type Journal } from './actors/journal.ts';
import type { Postgres, PostgresStatus } from './actors/postgres.ts';
import { shared } from './actors/shared-machine.ts';
import type { PeerStatus } from './cluster/eligibility.ts';
import { memberData, type NodeReport, PGWARDEN_VERSION } from './cluster/report.ts';
import { desiredSlots } from './cluster/topology.ts';
import { type ClusterView, isPaused, type Member } from './cluster/view.ts';
import { dynamicConfigFrom, loadConfig } from './config/load.ts';
import type { DynamicConfig, NodeConfig } from './config/types.ts';
import type { ActionResult, Operations, RestartRequest } from './http/operations.ts';
import { applyServerCertificates, serverOptions } from './http/security.ts';
import { type ApiContext, buildApi } from './http/server.ts';
import { electionMachine } from './machines/election.ts';
import {
  type NodeActor,
  type NodeEmitted,
  type NodeSettings,
  nodeMachine,
  restartSchedulerMachine,
  switchoverSchedulerMachine,
} from './machines/node/index.ts';
import { scheduledActionMachine } from './machines/scheduled-action.ts';
import { type ActorHost, dcsActors, postgresActors } from './runtime/node-actors.ts';
import { ServerParameters } from './runtime/server-parameters.ts';
import { fetchPeerStatus, probePeers as probePeersOverHttp } from './transport/peer-client.ts';

export interface AgentOptions {
  config: NodeConfig;
  dcs: Dcs;
  postgres: Postgres;
  clock?: Clock;
  log?: (msg: string) => void;
  /** Defaults to GET /patroni on every other member. */
  probePeers?: (view: ClusterView, me: string) => Promise<PeerStatus[]>;
  journal?: Journal;
  /** Also see every actor event and snapshot (coverage, tests). */
  inspect?: (ev: InspectionEvent) => void;
  /** Serve the REST API on config.restapi.listen (default true). */
  serveApi?: boolean;
  /** How often PostgreSQL's status is sampled (ms). */
  pgPollMs?: number;
  /** One member's status (GET its api_url), for the switchover check; defaults to HTTP. */
  fetchPeer?: (member: Member) => Promise<PeerStatus>;
}

/** The journal and any other inspector the caller gave, as one XState inspector. */
function inspectorFor(opts: AgentOptions): ((ev: InspectionEvent) => void) | undefined {
  const { journal, inspect } = opts;
  if (!journal && !inspect) return undefined;
  return (ev) => {
    journal?.inspect(ev);
    inspect?.(ev);
  };
}

export function nodeSettingsFrom(config: NodeConfig, d: DynamicConfig): NodeSettings {
  return {
    ttl: d.ttl,
    loop_wait: d.loop_wait,
    retry_timeout: d.retry_timeout,
    maximum_lag_on_failover: d.maximum_lag_on_failover,
    check_timeline: d.check_timeline,
    synchronous_mode: d.synchronous_mode,
    synchronous_mode_strict: d.synchronous_mode_strict,
    synchronous_node_count: d.synchronous_node_count,
    paused: d.pause,
    use_pg_rewind: d.postgresql.use_pg_rewind,
    use_slots: d.postgresql.use_slots,
    primary_start_timeout: d.primary_start_timeout,
    pg_ctl_timeout: config.postgresql.pg_ctl_timeout,
    remove_data_directory_on_rewind_failure: config.postgresql.remove_data_directory_on_rewind_failure,
    remove_data_directory_on_diverged_timelines:
      config.postgresql.remove_data_directory_on_diverged_timelines,
  };
}

export class Agent {
  config: NodeConfig;
  readonly actor: NodeActor;
  private readonly dcs: Dcs;
  private readonly pg: Postgres;
  private readonly clock: Clock;
  private readonly log: (msg: string) => void;
  private settings: NodeSettings;
  private view: ClusterView | null = null;
  private configIndex: string | null = null;
  /** A /config not yet kept in the data directory (see saveDynamicCache). */
  private dynamicCachePending: Record<string, unknown> | null = null;
  private dcsLastSeen: number | null = null;
  private pgStatus: PostgresStatus | null = null;
  private stopWatch: (() => void) | null = null;
  private timers = new Set<unknown>();
  private api: FastifyInstance | null = null;
  private apiBuilt: Promise<FastifyInstance> | null = null;
  private lastRequestId = 0;
  private nextRun = 0;
  private lastPublished = '';
  private lastSlots = '';
  private lastStatusOptime = -1;
  private publishing = false;
  private publishAgain = false;
  private pollQueue: Promise<void> = Promise.resolve();
  private pgGeneration = 0;
  private reportCache: { inputs: unknown[]; report: NodeReport } | null = null;
  private readonly params: ServerParameters;
  /** REST requests waiting on the cluster (POST /switchover): told of every view. */
  private readonly viewListeners = new Set<() => void>();
  private closed = false;
  /** The node machine finished: nothing more is sent to it (close() may come later). */
  private quiet = false;
  private readonly done: Promise<void>;

  constructor(private readonly opts: AgentOptions) {
    this.config = opts.config;
    this.dcs = opts.dcs;
    this.pg = opts.postgres;
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? (() => {});
    this.params = new ServerParameters({
      pg: this.pg,
      dcs: this.dcs,
      name: this.config.name,
      config: () => this.config,
      log: (msg) => this.log(msg),
    });
    this.settings = this.applyDynamicConfig(null);
    // First in the journal, before any actor starts: what wrote it, so that a replay can refuse
    // other machine definitions.
    opts.journal?.header({
      version: PGWARDEN_VERSION,
      machines: definitionsHash([nodeMachine, electionMachine, scheduledActionMachine()]),
      node: this.config.name,
      settings: this.settings,
    });
    const probe =
      opts.probePeers ??
      ((view: ClusterView, me: string) => {
        const auth = this.config.restapi.authentication;
        return probePeersOverHttp(view, me, auth ? { basicAuth: `${auth.username}:${auth.password}` } : {});
      });
    const readClock = { actors: { readClock: fromPromise<number>(async () => this.clock.now()) } };
    const host: ActorHost = {
      pg: this.pg,
      dcs: this.dcs,
      clock: this.clock,
      name: this.config.name,
      ttl: () => this.settings.ttl,
      failover: () => this.view?.failover ?? null,
      bootstrapDcs: () => this.config.bootstrap.dcs,
      log: (msg) => this.log(msg),
      changing: (action) => this.changing(action),
      publish: (force) => this.publish(force),
      pollPostgres: () => this.pollPostgres(),
      setSyncGuc: (value, names) => this.params.setSynchronousStandbyNames(value, names),
      reloadSyncGuc: () => this.params.reload(),
      probePeers: probe,
      probeMember: (member) => this.operations().probeMember(member),
    };
    const machine = shared(nodeMachine).provide({
      actors: {
        ...postgresActors(host),
        ...dcsActors(host),
        restartScheduler: shared(restartSchedulerMachine).provide(readClock),
        switchoverScheduler: shared(switchoverSchedulerMachine).provide(readClock),
      },
    });
    // Named, so that the journal says `node`, `node.election`, `node.restartScheduler`, not `x:0`.
    this.actor = createActor(machine, {
      id: 'node',
      clock: this.clock,
      input: {
        name: this.config.name,
        tags: {
          nofailover: this.config.tags.nofailover,
          clonefrom: this.config.tags.clonefrom,
          replicatefrom: this.config.tags.replicatefrom,
        },
        settings: this.settings,
      },
      inspect: inspectorFor(opts),
    });
    this.actor.on('notice', (e) => this.log(e.message));
    this.actor.on('scheduledRestart.changed', () => void this.publish(true));
    this.done = new Promise((resolve) => {
      // A finished machine takes no more events: the watch, the loops and the status samples end with it.
      const finish = () => {
        this.stopEventSources();
        resolve();
      };
      this.actor.subscribe({ complete: finish, error: finish });
    });
  }

  // ---------------------------------------------------------------------------------------
  // Observations.

  /** /config (or bootstrap.dcs before there is one) → machine settings and server parameters. */
  private applyDynamicConfig(data: Record<string, unknown> | null): NodeSettings {
    const d = dynamicConfigFrom(data ?? this.config.bootstrap.dcs, this.config);
    this.settings = nodeSettingsFrom(this.config, d);
    this.params.setDynamic(d.postgresql.parameters);
    return this.settings;
  }

  private onView(view: ClusterView): void {
    this.view = view;
    this.dcsLastSeen = Math.floor(this.clock.now() / 1000);
    const index = view.config?.index ?? null;
    if (index !== this.configIndex) {
      this.configIndex = index;
      const ttlBefore = this.settings.ttl;
      this.applyDynamicConfig(view.config?.data ?? null);
      this.actor.send({ type: 'SETTINGS', settings: this.settings });
      if (view.config) this.dynamicCachePending = view.config.data;
      void this.saveDynamicCache();
      this.dcs.setRetryTimeout(this.settings.retry_timeout);
      // A new ttl needs a new lease: the leader's next refresh moves its key onto one (never
      // behind the election's back), other keys move at their next write.
      if (this.settings.ttl !== ttlBefore) this.dcs.setTtl(this.settings.ttl);
    }
    this.actor.send({ type: 'CLUSTER', view });
    void this.publish(false);
    for (const listener of [...this.viewListeners]) listener();
  }

  /**
   * One status sample, queued behind any sample already under way, so that a caller that just
   * changed PostgreSQL (start, stop, promote) always gets a sample taken after its change. A
   * sample that raced such a change is dropped rather than delivered late.
   */
  pollPostgres(): Promise<void> {
    this.pollQueue = this.pollQueue.then(() => this.sample());
    return this.pollQueue;
  }

  private async sample(): Promise<void> {
    if (this.closed) return;
    const generation = this.pgGeneration;
    const token = this.params.sampleBegins();
    try {
      const status = await this.pg.status();
      if (generation !== this.pgGeneration || this.closed || this.quiet) return;
      this.pgStatus = status;
      this.params.sampled(status, token);
      this.actor.send({ type: 'PG_STATUS', status });
    } catch (err) {
      // Running but not answering (starting up, overloaded): keep the last known status.
      this.log(`postgres status: ${(err as Error).message}`);
    }
  }

  /** Wraps an action that changes PostgreSQL's state: samples from before it are stale. */
  private async changing<T>(action: () => Promise<T>): Promise<T> {
    this.pgGeneration++;
    try {
      return await action();
    } finally {
      this.pgGeneration++;
      await this.pollPostgres();
    }
  }

  // ---------------------------------------------------------------------------------------
  // Publishing: member key, lease, and (leader) /status and slots.

  /**
   * The node's report, rebuilt only when something it is made of changed, so that REST answers
   * (and the serialized status document cached per report) cost nothing per request.
   */
  report(): NodeReport {
    const snap = this.actor.getSnapshot();
    const inputs = [snap, this.pgStatus, this.view, this.dcsLastSeen, this.settings, this.config];
    if (this.reportCache && inputs.every((v, i) => v === this.reportCache!.inputs[i]))
      return this.reportCache.report;
    const report = this.buildReport();
    this.reportCache = { inputs, report };
    return report;
  }

  private buildReport(): NodeReport {
    const ctx = this.actor.getSnapshot().context;
    const api = this.config.restapi;
    return {
      name: this.config.name,
      scope: this.config.scope,
      connUrl: `postgres://${this.config.postgresql.connect_address}/postgres`,
      apiUrl: `${api.certfile ? 'https' : 'http'}://${api.connect_address}/patroni`,
      tags: this.config.tags.published,
      state: ctx.pgState,
      role: ctx.role,
      pg: this.pgStatus,
      systemIdentifier: this.pgStatus?.systemIdentifier ?? ctx.dataDir?.systemIdentifier ?? null,
      isLeader: ctx.isLeader,
      view: this.view,
      dcsLastSeen: this.dcsLastSeen,
      paused: isPaused(this.view),
      synchronousMode: this.settings.synchronous_mode,
      scheduledRestart: ctx.restart.scheduled?.published ?? null,
    };
  }

  private async publish(force: boolean): Promise<void> {
    if (this.closed) return;
    if (this.publishing) {
      // A change arrived while we were writing: publish again right after, or the member key
      // would show a stale state until the next loop.
      this.publishAgain = true;
      return;
    }
    const snap = this.actor.getSnapshot();
    if (snap.matches('starting') || snap.status !== 'active') return;
    this.publishing = true;
    try {
      const report = this.report();
      const data = memberData(report);
      const text = JSON.stringify(data);
      if (force || text !== this.lastPublished) {
        await this.dcs.touchMember(this.config.name, data);
        this.lastPublished = text;
      }
      const pg = report.pg;
      if (report.isLeader && pg?.running && !pg.inRecovery && this.view) {
        const optime = pg.currentLsn ?? 0;
        if (optime !== this.lastStatusOptime) {
          await this.dcs.setStatus({ optime });
          this.lastStatusOptime = optime;
        }
        const slots = desiredSlots(this.view, this.config.name);
        const key = slots.join(',');
        if (force || key !== this.lastSlots) {
          if (this.settings.use_slots) await this.pg.syncSlots(slots);
          this.lastSlots = key;
        }
        await this.params.manageSync(this.view, pg, this.settings);
      } else if (
        !report.isLeader &&
        this.params.synchronousStandbyNames() !== '' &&
        !(pg?.running && !pg.inRecovery)
      ) {
        // Not the leader any more and no longer writable: drop the synchronous standbys. Never
        // while PostgreSQL still runs as a primary — emptying the list would release commits
        // that wait for a standby, acknowledging writes the new leader never received.
        this.params.setSynchronousStandbyNames('', []);
        await this.params.reload();
      }
    } catch (err) {
      this.log(`publish: ${(err as Error).message}`);
    } finally {
      this.publishing = false;
    }
    if (this.publishAgain) {
      this.publishAgain = false;
      await this.publish(false);
    }
  }

  private async loop(): Promise<void> {
    if (this.closed) return;
    this.nextRun = this.clock.now() + this.settings.loop_wait * 1000;
    const ctx = this.actor.getSnapshot().context;
    if (!ctx.isLeader) {
      // Replicas keep their lease (and member key) alive here; the leader does it in the election.
      try {
        await this.dcs.refreshLease();
      } catch (err) {
        this.log(`lease refresh: ${(err as Error).message}`);
      }
    }
    await this.publish(true);
    await this.saveDynamicCache();
    this.every(this.settings.loop_wait * 1000, () => this.loop(), true);
  }

  /**
   * The last /config into the data directory (patroni.dynamic.json), once there is an
   * initialized one to keep it in: tried again every loop until it is written, as Patroni does.
   */
  private async saveDynamicCache(): Promise<void> {
    const data = this.dynamicCachePending;
    if (data === null) return;
    try {
      if (await this.pg.writeDynamicConfigCache(data)) {
        if (this.dynamicCachePending === data) this.dynamicCachePending = null;
      }
    } catch (err) {
      this.log(`saving the dynamic configuration: ${(err as Error).message}`);
    }
  }

  private every(ms: number, fn: () => Promise<void> | void, once = false): void {
    const id = this.clock.setTimeout(() => {
      this.timers.delete(id);
      if (this.closed || this.quiet) return;
      void Promise.resolve(fn()).finally(() => {
        if (!once && !this.quiet) this.every(ms, fn);
      });
    }, ms);
    this.timers.add(id);
  }

  // ---------------------------------------------------------------------------------------
  // What the REST API may ask of this node.

  private operations(): Operations {
    const auth = this.config.restapi.authentication;
    return {
      getCluster: () => this.dcs.getCluster(),
      setConfig: (value, index) => this.dcs.setConfig(value, index),
      setFailover: (value, index) => this.dcs.setFailover(value, index),
      probeMember: (member) =>
        this.opts.fetchPeer
          ? this.opts.fetchPeer(member)
          : fetchPeerStatus(member, auth ? { basicAuth: `${auth.username}:${auth.password}` } : {}),
      wake: () => {
        this.actor.send({ type: 'WAKE' });
        void this.publish(true);
      },
      reload: () => void this.reload(),
      restart: (request) => this.restart(request),
      cancelScheduledRestart: () => this.cancelScheduledRestart(),
      reinitialize: (force) => this.reinitialize(force),
    };
  }

  /**
   * Sends what `send(requestId)` builds and waits, bounded by `ms`, for the first of `types`
   * the node machine emits for that request (a concurrent request has another id).
   */
  private answer<T extends NodeEmitted['type']>(
    types: T[],
    send: (requestId: number) => void,
    ms: number,
  ): Promise<Extract<NodeEmitted, { type: T }> | null> {
    const requestId = ++this.lastRequestId;
    return new Promise((resolve) => {
      const subs = types.map((t) =>
        this.actor.on(t, (e) => {
          if ((e as { requestId?: number | null }).requestId === requestId)
            finish(e as Extract<NodeEmitted, { type: T }>);
        }),
      );
      const timer = this.clock.setTimeout(() => finish(null), ms);
      const finish = (e: Extract<NodeEmitted, { type: T }> | null) => {
        for (const s of subs) s.unsubscribe();
        this.clock.clearTimeout(timer);
        resolve(e);
      };
      send(requestId);
    });
  }

  /**
   * POST /restart: the node machine applies Patroni's filters and restarts (or says why not); a
   * scheduled one goes to its restart scheduler. The answer is the event it emits back.
   */
  async restart(request: RestartRequest): Promise<ActionResult> {
    if (request.schedule) {
      const answer = await this.answer(
        ['restart.scheduled', 'restart.conflict'],
        (requestId) =>
          this.actor.send({ type: 'SCHEDULE_RESTART', request, nowMs: this.clock.now(), requestId }),
        5000,
      );
      if (!answer) return { status: 503, text: 'restart not scheduled: the node machine is not running' };
      return answer.type === 'restart.scheduled'
        ? { status: 202, text: 'Restart scheduled' }
        : { status: 409, text: 'Another restart is already scheduled' };
    }
    const { role, postgres_version, restart_pending } = request;
    const bound = ((request.timeout ?? this.config.postgresql.pg_ctl_timeout) * 2 + 30) * 1000;
    const answer = await this.answer(
      ['restart.done', 'restart.busy', 'restart.refused'],
      (requestId) =>
        this.actor.send({
          type: 'RESTART',
          timeoutSeconds: request.timeout ?? null,
          conditions: { role, postgres_version, restart_pending },
          requestId,
        }),
      bound,
    );
    if (!answer) return { status: 503, text: 'postgres is still starting' };
    if (answer.type === 'restart.refused')
      return { status: 503, text: 'restart conditions are not satisfied' };
    if (answer.type === 'restart.busy') return { status: 503, text: `${answer.action} already in progress` };
    return answer.ok
      ? { status: 200, text: 'restarted successfully' }
      : { status: 503, text: 'restart failed' };
  }

  async cancelScheduledRestart(): Promise<ActionResult> {
    const answer = await this.answer(
      ['restart.cancelled', 'restart.nothingToCancel'],
      (requestId) => this.actor.send({ type: 'CANCEL_SCHEDULED_RESTART', requestId }),
      5000,
    );
    return answer?.type === 'restart.cancelled'
      ? { status: 200, text: 'scheduled restart deleted' }
      : { status: 404, text: 'no restarts are scheduled' };
  }

  async reinitialize(force: boolean): Promise<ActionResult> {
    // A fresh read, as Patroni does: the watch may be stale (a node cut off from etcd still
    // sees the leader it last knew), and wiping the data directory with nobody to clone from —
    // perhaps the only copy /sync allows to take over — cannot be undone.
    let view: ClusterView;
    try {
      view = await this.dcs.getCluster();
    } catch (err) {
      return { status: 503, text: `DCS is not accessible: ${(err as Error).message}` };
    }
    if (!view.leader) return { status: 503, text: 'Cluster has no leader, can not reinitialize' };
    if (this.actor.getSnapshot().context.isLeader || view.leader.name === this.config.name)
      return { status: 503, text: 'I am the leader, can not reinitialize' };
    const answer = await this.answer(
      ['reinitialize.started', 'reinitialize.busy'],
      (requestId) => this.actor.send({ type: 'REINITIALIZE', force, requestId }),
      5000,
    );
    if (answer?.type === 'reinitialize.started') return { status: 200, text: 'reinitialize started' };
    return {
      status: 503,
      text: `${answer?.type === 'reinitialize.busy' ? answer.action : 'reinitialize'} already in progress`,
    };
  }

  /** New certificate, key or CA files take effect for new connections without a restart. */
  private reloadTls(): void {
    if (applyServerCertificates(this.api?.server, this.config))
      this.log('reload: REST API certificates reloaded');
  }

  /** SIGHUP and POST /reload: re-read the file, keep what cannot change at run time, apply the rest. */
  async reload(): Promise<void> {
    let next: NodeConfig;
    try {
      next = this.config.source ? loadConfig({ file: this.config.source }) : this.config;
    } catch (err) {
      this.log(`reload: configuration not applied: ${(err as Error).message}`);
      return;
    }
    for (const fixed of ['name', 'scope', 'namespace'] as const) {
      if (next[fixed] !== this.config[fixed]) {
        this.log(`reload: ${fixed} cannot change while running; configuration not applied`);
        return;
      }
    }
    if (next.postgresql.data_dir !== this.config.postgresql.data_dir) {
      this.log('reload: postgresql.data_dir cannot change while running; configuration not applied');
      return;
    }
    if (Boolean(next.restapi.certfile) !== Boolean(this.config.restapi.certfile)) {
      this.log(
        'reload: switching the REST API between http and https needs a restart; configuration not applied',
      );
      return;
    }
    try {
      serverOptions(next);
    } catch (err) {
      this.log(`reload: configuration not applied: ${(err as Error).message}`);
      return;
    }
    this.config = next;
    this.reloadTls();
    const settings = this.applyDynamicConfig(this.view?.config?.data ?? null);
    this.actor.send({ type: 'SETTINGS', settings });
    try {
      // The same parameters as every other change: synchronous_standby_names included, or a
      // reload on a synchronous leader would stop PostgreSQL waiting for its standby and
      // acknowledge commits the standby /sync names never got (found by the simulator).
      // Sampled first, so that a running primary's synchronous standbys are known.
      if (!this.params.firstSampleSeen()) await this.pollPostgres();
      await this.pg.reload(next, this.params.reloadingWith());
      this.log('reload: configuration applied');
    } catch (err) {
      this.log(`reload: postgres reload failed: ${(err as Error).message}`);
    }
    void this.publish(true);
  }

  // ---------------------------------------------------------------------------------------
  // Life cycle.

  async start(): Promise<void> {
    if (this.opts.serveApi !== false) {
      const api = await this.restApi();
      const { host, port } = this.config.restapi.listen;
      await api.listen({ host, port });
    }
    this.actor.subscribe((snap) => {
      // Role and state changes reach the member key at once, not a loop later.
      void snap;
      void this.publish(false);
    });
    this.actor.start();
    // The last /config this node applied (patroni.dynamic.json): the cluster's timing from the
    // first second, while etcd may still be away, rather than the YAML's bootstrap values.
    const cached = await this.pg.readDynamicConfigCache().catch(() => null);
    if (cached !== null && this.view === null) {
      this.actor.send({ type: 'SETTINGS', settings: this.applyDynamicConfig(cached) });
      this.dcs.setRetryTimeout(this.settings.retry_timeout);
      this.dcs.setTtl(this.settings.ttl);
    }
    // PostgreSQL is watched from the start: a primary left running by a previous agent process
    // must not stay writable for as long as etcd stays away (see the node's fencingPrimary).
    await this.pollPostgres();
    this.every(this.opts.pgPollMs ?? 1000, () => this.pollPostgres());
    await this.waitForLease();
    if (this.closed) return;
    this.stopWatch = this.dcs.watch(
      (view) => this.onView(view),
      (err) => {
        this.actor.send({ type: 'DCS_UNAVAILABLE', message: `DCS is not accessible: ${err.message}` });
      },
    );
    this.nextRun = this.clock.now();
    void this.loop();
  }

  /** Patroni blocks until etcd grants a lease; so do we, saying so, and never crash meanwhile. */
  private async waitForLease(): Promise<void> {
    for (let attempt = 0; !this.closed && !this.quiet; attempt++) {
      try {
        await this.dcs.ensureLease(this.settings.ttl);
        return;
      } catch (err) {
        if (this.closed || this.quiet) return;
        const message = `waiting on etcd: ${(err as Error).message}`;
        this.log(message);
        this.actor.send({ type: 'DCS_UNAVAILABLE', message });
        await new Promise((r) => this.clock.setTimeout(r, Math.min(5000, 500 * (attempt + 1))));
      }
    }
  }

  /**
   * The REST API of this node, built on first use. start() listens on it; without serveApi
   * (the simulator, embedding tests) requests reach it in process through `inject`, on the same
   * routes and with the same answers, and its waits run on the agent's clock.
   */
  restApi(): Promise<FastifyInstance> {
    this.apiBuilt ??= buildApi(this.apiContext()).then((api) => {
      this.api = api;
      return api;
    });
    return this.apiBuilt;
  }

  /** What the REST routes read and call: this node's report, settings, clock and operations. */
  apiContext(): ApiContext {
    return {
      report: () => this.report(),
      settings: () => this.settings,
      nextRun: () => this.nextRun,
      now: () => this.clock.now(),
      timer: (ms, fn) => {
        const id = this.clock.setTimeout(fn, ms);
        return () => this.clock.clearTimeout(id);
      },
      watchView: (listener) => {
        this.viewListeners.add(listener);
        return () => this.viewListeners.delete(listener);
      },
      config: () => this.config,
      ops: this.operations(),
    };
  }

  /** Resolves when the node machine has finished (stopped or failed). */
  /** One of the two schedulers, for observers (the simulator's invariants, the journal). */
  scheduler(kind: 'restart' | 'switchover'): AnyActorRef {
    // Children of the node machine: listed from the machine's creation on, stopped with it.
    return this.actor.getSnapshot().children[`${kind}Scheduler`] as AnyActorRef;
  }

  finished(): Promise<void> {
    return this.done;
  }

  /** Clean shutdown: PostgreSQL stopped, lock released, everything closed. */
  async stop(): Promise<void> {
    this.actor.send({ type: 'STOP' });
    await this.finished();
    await this.close();
  }

  private stopEventSources(): void {
    this.quiet = true;
    for (const id of this.timers) this.clock.clearTimeout(id);
    this.timers.clear();
    this.stopWatch?.();
    this.stopWatch = null;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.publish(true);
    } catch {
      // best effort: the member key expires with the lease anyway
    }
    this.closed = true;
    this.stopEventSources();
    this.actor.stop();
    await this.api?.close();
    await this.pg.close();
    await this.dcs.close();
    await this.opts.journal?.close();
  }
}
