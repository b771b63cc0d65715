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
import { DeviceWatchdog } from './actors/watchdog/device.ts';
import type { Watchdog } from './actors/watchdog.ts';
import { callbackRole } from './cluster/callbacks.ts';
import type { PeerStatus } from './cluster/eligibility.ts';
import { apiUrlOf, connUrlOf, type NodeReport } from './cluster/report.ts';
import type { ClusterView, Member } from './cluster/view.ts';
import type { NodeConfig } from './config/types.ts';
import type { ActionResult } from './http/operations.ts';
import { applyServerCertificates } from './http/security.ts';
import type { ApiContext } from './http/server.ts';
import type { NodeActor, NodeSettings } from './machines/node/index.ts';
import { AddressBook } from './runtime/address-book.ts';
import { Alarms } from './runtime/alarms.ts';
import { CallbackRunner, runPrePromote } from './runtime/callbacks.ts';
import type { NodeCore } from './runtime/core.ts';
import { DynamicConfigFollower, settingsFrom } from './runtime/dynamic-config.ts';
import { answerFailsafe, confirmFailsafe, type FailsafeRequest } from './runtime/failsafe.ts';
import { Gossip, type GossipCounters } from './runtime/gossip/hub.ts';
import { HANDSHAKE_TIMEOUT_MS } from './runtime/gossip/rules.ts';
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
import type { GossipDialer } from './transport/gossip-link.ts';
import { type GossipAcceptor, GossipServer, webSocketDialer } from './transport/gossip-ws.ts';
import { peerAuthorization, peerClientOptions, postFailsafe } from './transport/peer-client.ts';

export interface AgentOptions {
  config: NodeConfig;
  dcs: Dcs;
  postgres: Postgres;
  clock?: Clock;
  log?: (msg: string) => void;
  /** How gossip links are opened: WebSockets by default, the simulator's network in simulation. */
  gossipDialer?: GossipDialer;
  journal?: Journal;
  /** Also see every actor event and snapshot (coverage, tests). */
  inspect?: (ev: InspectionEvent) => void;
  /** Serve the REST API on config.restapi.listen (default true). */
  serveApi?: boolean;
  /** How often PostgreSQL's status is sampled (ms). */
  pgPollMs?: number;
  /**
   * One member's status (GET its api_url, 2 s unless told), for the switchover check and the
   * race's fallback when gossip does not answer; defaults to HTTP.
   */
  fetchPeer?: (member: Member, timeoutMs?: number) => Promise<PeerStatus>;
  /** POST /failsafe to a member's api_url (failsafe mode); defaults to HTTP with this node's credentials. */
  postFailsafe?: (apiUrl: string, body: FailsafeRequest, timeoutMs: number) => Promise<ActionResult | null>;
  /** How machines get their actors (default XState's provide(); the simulator caches). */
  provide?: ProvideActors;
  /** The watchdog (default: the device of the watchdog section; the simulator's counts virtual time). */
  watchdog?: Watchdog;
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
  private readonly gossip: Gossip;
  private readonly alarms: Alarms;
  /** Patroni's user callbacks (postgresql.callbacks), run as the node machine says. */
  private readonly callbacks = new CallbackRunner({
    config: () => this.config,
    log: (msg) => this.core.log(msg),
  });
  private readonly addressBook: AddressBook;
  private closed = false;
  private disarming: Promise<void> = Promise.resolve();
  private readonly done: Promise<void>;

  constructor(private readonly opts: AgentOptions) {
    this.config = opts.config;
    const { dcs, postgres: pg } = opts;
    const clock = opts.clock ?? systemClock;
    const log = opts.log ?? (() => {});
    const config = () => this.config;
    const watchdog = opts.watchdog ?? new DeviceWatchdog({ log });
    const watchdogUsable = () => watchdog.usable(this.config.watchdog);
    writeJournalHeader(opts.journal, this.config, settingsFrom(this.config, null, watchdogUsable()));
    const inspect = inspectorFor(opts.journal, opts.inspect);
    // A journal records which guards chose each transition (see guard-trace.ts).
    const provide = opts.journal
      ? tracingGuards(opts.provide ?? provideActors)
      : (opts.provide ?? provideActors);
    const params = new ServerParameters({ pg, dcs, name: this.config.name, config, log, inspect, provide });
    const tell = (settings: NodeSettings) => this.actor.send({ type: 'SETTINGS', settings });
    this.dynamic = new DynamicConfigFollower({ pg, dcs, params, config, tell, log, watchdogUsable });
    const shared = {
      pg,
      dcs,
      watchdog,
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
        // Gossip first, GET /patroni with the rest of the 2 s otherwise (runtime/gossip/hub.ts).
        probePeers: (members, me) => this.gossip.probe(members, me),
        prePromote: (timeoutSeconds) =>
          runPrePromote(this.config.postgresql.pre_promote, timeoutSeconds, log),
        probeMember: (member) => this.requests.probeMember(member),
        confirmFailsafe: (members) =>
          confirmFailsafe(
            {
              clock,
              log,
              request: () => ({
                name: this.config.name,
                conn_url: connUrlOf(this.config),
                api_url: apiUrlOf(this.config),
              }),
              askOverGossip: (name, request) =>
                this.gossip.askFailsafe(name, { connUrl: request.conn_url, apiUrl: request.api_url }),
              post: (apiUrl, request, timeoutMs) =>
                opts.postFailsafe
                  ? opts.postFailsafe(apiUrl, request, timeoutMs)
                  : postFailsafe(apiUrl, request, { ...peerClientOptions(this.config), timeoutMs }),
            },
            members,
          ),
        provide,
      },
      this.config,
      this.settings,
      opts,
    );
    const core: NodeCore = { ...shared, actor: this.actor };
    this.core = core;
    this.sampler = new PostgresSampler({ ...core, silent: () => this.observations.silent() });
    this.alarms = new Alarms(() => clock.now());
    this.publisher = new Publisher({ ...core, inspect, provide, alarms: () => this.alarms.reading().list });
    this.requests = new NodeRequests({
      ...core,
      reload: () => void this.reload(),
      fetchPeer: opts.fetchPeer,
      inspect,
      provide,
      report: () => this.publisher.report(),
    });
    this.gossip = new Gossip({
      clock,
      me: () => this.config.name,
      scope: () => this.config.scope,
      intervalMs: () => this.config.gossip.intervalMs,
      report: () => this.publisher.report(),
      freshStatus: () => this.sampler.fresh(),
      dialer:
        opts.gossipDialer ??
        webSocketDialer({
          me: () => this.config.name,
          scope: () => this.config.scope,
          authorization: () => peerAuthorization(peerClientOptions(this.config)),
          tls: () => peerClientOptions(this.config).tls ?? null,
          handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
        }),
      restProbe: (member, timeoutMs) => this.requests.probeMember(member, timeoutMs),
      answerFailsafe: (from) => answerFailsafe(this.actor, from),
      shortLeaseMs: () => this.config.gossip.shortLeaseMs,
      armedWatchdogMs: () => watchdog.armedTimeoutMs(),
      // Starting or stopping: no election to tell (its renewals and proofs wait for one).
      tellElection: (event) =>
        (this.actor.getSnapshot().children['election'] as AnyActorRef | undefined)?.send(event),
      log,
    });
    this.addressBook = new AddressBook(core);
    this.observations = new Observations(
      {
        ...core,
        saveDynamicCache: () => this.dynamic.saveCache(),
        saveAddressBook: () => this.addressBook.save(),
        checkPostgres: () => this.sampler.check(),
        freshPostgres: () => this.sampler.fresh(),
        onView: (view) => this.onView(view),
      },
      opts.pgPollMs ?? 1000,
    );
    this.rest = new RestApi({
      ...core,
      report: () => this.publisher.report(),
      freshStatus: () => this.sampler.fresh(),
      nextRun: () => this.observations.nextRun,
      ops: this.requests.operations(),
      journal: opts.journal,
      gossip: new GossipServer(this.gossip),
      gossipReading: () => (this.config.gossip.enabled ? this.gossipCounters() : undefined),
      alarms: () => this.alarms.reading(),
      visualizer:
        opts.journal && opts.serveApi !== false
          ? new Visualizer({ ...core, journal: opts.journal, report: () => this.publisher.report() })
          : undefined,
    });
    this.actor.on('notice', (e) => log(e.message));
    this.actor.on('callback', (e) => this.callbacks.run(e.action, e.role));
    // Awaited by close(): a clean exit must not end the process before the magic close is written.
    this.actor.on('watchdog.disarm', () => {
      this.disarming = watchdog.disarm();
    });
    // Members must hear a newly armed watchdog before the promotion it guards makes a primary.
    this.actor.on('watchdog.changed', () => this.gossip.watchdogChanged());
    this.actor.on('orphan.fenced', (e) => {
      this.alarms.orphanFenced(e.member, e.terminated);
      void this.publisher.publish(true);
    });
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
    this.gossip.follow(view);
    this.actor.send({ type: 'CLUSTER', view });
    void this.addressBook.save();
    void this.publisher.publish(false);
    this.requests.viewChanged(view);
  }

  /** Who may gossip with this node, and the links they open (the `/gossip` upgrade's other side). */
  gossipAcceptor(): GossipAcceptor {
    return this.gossip;
  }

  /** The gossip channel's counters and open links (for /metrics). */
  gossipCounters(): GossipCounters & { connectedPeers: number } {
    return { ...this.gossip.counters, connectedPeers: this.gossip.connectedPeers() };
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
      reloaded: () => this.callbacks.run('on_reload', callbackRole(this.actor.getSnapshot().context.role)),
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
      this.gossip.changed();
    });
    this.actor.start();
    if (this.config.gossip.enabled) this.gossip.start();
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
    this.gossip.stop();
    this.actor.stop();
    await this.rest.close();
    await this.disarming;
    await this.core.pg.close();
    await this.core.dcs.close();
    await this.opts.journal?.close();
  }
}
