/**
 * One pgwarden node at run time: the node machine as an actor system, and the observations that
 * feed it (the DCS watch, PostgreSQL's status, the loop that keeps the member key alive). This
 * file only composes; each concern has its module under `src/runtime/`.
 *
 * The same Agent runs on real etcd + PostgreSQL in production and on the in-memory DCS and
 * simulated PostgreSQL in tests; only the Dcs and Postgres objects differ.
 */

import type { FastifyInstance } from 'fastify';
import type { AnyActorRef, InspectionEvent } from 'xstate';
import { type Clock, systemClock } from './actors/clock.ts';
import type { Dcs } from './actors/dcs.ts';
import { tracingGuards } from './actors/guard-trace.ts';
import type { Journal } from './actors/journal.ts';
import type { Postgres } from './actors/postgres.ts';
import type { PeerStatus } from './cluster/eligibility.ts';
import type { NodeReport } from './cluster/report.ts';
import type { ClusterView, Member } from './cluster/view.ts';
import type { NodeConfig } from './config/types.ts';
import { applyServerCertificates } from './http/security.ts';
import type { ApiContext } from './http/server.ts';
import type { NodeActor, NodeSettings } from './machines/node/index.ts';
import type { NodeCore } from './runtime/core.ts';
import { DynamicConfigFollower, settingsFrom } from './runtime/dynamic-config.ts';
import { createNodeActor, inspectorFor, writeJournalHeader } from './runtime/node-actor.ts';
import { Observations } from './runtime/observations.ts';
import { PostgresSampler } from './runtime/postgres-sampler.ts';
import { type ProvideActors, provideActors } from './runtime/provide.ts';
import { Publisher } from './runtime/publisher.ts';
import { reload } from './runtime/reload.ts';
import { NodeRequests } from './runtime/requests.ts';
import { RestApi } from './runtime/rest-api.ts';
import { ServerParameters } from './runtime/server-parameters.ts';
import { Visualizer } from './runtime/visualizer.ts';
import { peerClientOptions, probePeers as probePeersOverHttp } from './transport/peer-client.ts';

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
  /** How machines get their actors (default XState's provide(); the simulator caches). */
  provide?: ProvideActors;
}

/** The schedulers' actor ids under the node machine (see node-actor.ts). */
const SCHEDULER_IDS = { restart: 'restartScheduler', switchover: 'switchoverScheduler' } as const;

export class Agent {
  config: NodeConfig;
  readonly actor: NodeActor;
  private readonly core: NodeCore;
  private readonly sampler: PostgresSampler;
  private readonly dynamic: DynamicConfigFollower;
  private readonly publisher: Publisher;
  private readonly requests: NodeRequests;
  private readonly observations: Observations;
  private view: ClusterView | null = null;
  private dcsLastSeen: number | null = null;
  private readonly rest: RestApi;
  private closed = false;
  private readonly done: Promise<void>;

  constructor(private readonly opts: AgentOptions) {
    this.config = opts.config;
    const { dcs, postgres: pg } = opts;
    const clock = opts.clock ?? systemClock;
    const log = opts.log ?? (() => {});
    const config = () => this.config;
    writeJournalHeader(opts.journal, this.config, settingsFrom(this.config, null));
    const inspect = inspectorFor(opts.journal, opts.inspect);
    // A journal records which guards chose each transition (see guard-trace.ts).
    const provide = opts.journal
      ? tracingGuards(opts.provide ?? provideActors)
      : (opts.provide ?? provideActors);
    const params = new ServerParameters({ pg, dcs, name: this.config.name, config, log, inspect, provide });
    const tell = (settings: NodeSettings) => this.actor.send({ type: 'SETTINGS', settings });
    this.dynamic = new DynamicConfigFollower({ pg, dcs, params, config, tell, log });
    const shared = {
      pg,
      dcs,
      clock,
      params,
      config,
      settings: () => this.settings,
      view: () => this.view,
      pgStatus: () => this.sampler.last,
      dcsLastSeen: () => this.dcsLastSeen,
      closed: () => this.closed,
      log,
      publish: (force: boolean) => this.publisher.publish(force),
      pollPostgres: () => this.sampler.poll(),
    };
    this.actor = createNodeActor(
      {
        ...shared,
        name: this.config.name,
        bootstrapDcs: () => this.config.bootstrap.dcs,
        changing: (action) => this.sampler.changing(action),
        setSyncGuc: (value, names) => params.setSynchronousStandbyNames(value, names),
        reloadSyncGuc: () => params.reload(),
        probePeers:
          opts.probePeers ?? ((view, me) => probePeersOverHttp(view, me, peerClientOptions(this.config))),
        probeMember: (member) => this.requests.probeMember(member),
        provide,
      },
      this.config,
      this.settings,
      opts,
    );
    const core: NodeCore = { ...shared, actor: this.actor };
    this.core = core;
    this.sampler = new PostgresSampler({ ...core, silent: () => this.observations.silent() });
    this.publisher = new Publisher({ ...core, inspect, provide });
    this.requests = new NodeRequests({
      ...core,
      reload: () => void this.reload(),
      fetchPeer: opts.fetchPeer,
      inspect,
      provide,
      report: () => this.publisher.report(),
    });
    this.observations = new Observations(
      {
        ...core,
        saveDynamicCache: () => this.dynamic.saveCache(),
        onView: (view) => this.onView(view),
      },
      opts.pgPollMs ?? 1000,
    );
    this.rest = new RestApi({
      ...core,
      report: () => this.publisher.report(),
      nextRun: () => this.observations.nextRun,
      ops: this.requests.operations(),
      journal: opts.journal,
      visualizer:
        opts.journal && opts.serveApi !== false
          ? new Visualizer({ ...core, journal: opts.journal, report: () => this.publisher.report() })
          : undefined,
    });
    this.actor.on('notice', (e) => log(e.message));
    this.actor.on('scheduledRestart.changed', () => void this.publisher.publish(true));
    this.done = new Promise((resolve) => {
      // A finished machine takes no more events: the watch, the loops and the status samples end with it.
      const finish = () => {
        this.observations.stop();
        resolve();
      };
      this.actor.subscribe({ complete: finish, error: finish });
    });
  }

  private get settings() {
    return this.dynamic.settings;
  }

  private onView(view: ClusterView): void {
    this.view = view;
    this.dcsLastSeen = Math.floor(this.core.clock.now() / 1000);
    this.dynamic.follow(view);
    this.actor.send({ type: 'CLUSTER', view });
    void this.publisher.publish(false);
    this.requests.viewChanged(view);
  }

  /** This node as GET /patroni shows it (see Publisher). */
  report(): NodeReport {
    return this.publisher.report();
  }

  /** SIGHUP and POST /reload (see runtime/reload.ts). */
  reload(): Promise<void> {
    return reload({
      ...this.core,
      replaceConfig: (next) => {
        this.config = next;
      },
      reloadCertificates: () => {
        if (applyServerCertificates(this.rest.server?.server, this.config))
          this.core.log('reload: REST API certificates reloaded');
      },
      settingsNow: () => this.dynamic.apply(this.view?.config?.data ?? null),
      tell: (settings) => this.actor.send({ type: 'SETTINGS', settings }),
    });
  }

  async start(): Promise<void> {
    if (this.opts.serveApi !== false) {
      const api = await this.restApi();
      const { host, port } = this.config.restapi.listen;
      await api.listen({ host, port });
    }
    this.actor.subscribe((snap) => {
      // Role and state changes reach the member key at once, not a loop later.
      void snap;
      void this.publisher.publish(false);
    });
    this.actor.start();
    await this.dynamic.restoreCache(() => this.view === null);
    await this.observations.start();
  }

  /** The REST API (see runtime/rest-api.ts), built on first use. */
  restApi(): Promise<FastifyInstance> {
    return this.rest.build();
  }

  apiContext(): ApiContext {
    return this.rest.context();
  }

  /** One of the two schedulers, for observers (the simulator's invariants, the journal). */
  scheduler(kind: 'restart' | 'switchover'): AnyActorRef {
    // Children of the node machine: listed from the machine's creation on, stopped with it. The
    // ids are constants: a key built per call is hashed anew at every look-up (the simulator's
    // invariants ask thousands of times per schedule).
    return this.actor.getSnapshot().children[SCHEDULER_IDS[kind]] as AnyActorRef;
  }

  /** Resolves when the node machine has finished (stopped or failed). */
  finished(): Promise<void> {
    return this.done;
  }

  /** Clean shutdown: PostgreSQL stopped, lock released, everything closed. */
  async stop(): Promise<void> {
    this.actor.send({ type: 'STOP' });
    await this.finished();
    await this.close();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.publisher.publish(true);
    } catch {
      // best effort: the member key expires with the lease anyway
    }
    this.closed = true;
    this.observations.stop();
    this.actor.stop();
    await this.rest.close();
    await this.core.pg.close();
    await this.core.dcs.close();
    await this.opts.journal?.close();
  }
}
