/**
 * A whole pgwarden cluster in one process and in virtual time: the production Agents (and
 * through them the production machines), each on its own connection to one in-memory etcd,
 * each with a simulated PostgreSQL, asking each other for status in memory, all on one
 * SimulatedClock. Tests advance time, inject faults and look at what the nodes report; this
 * class is that surface, its nodes are node.ts, what it reads readings.ts.
 */
import { type InspectionEvent, SimulatedClock } from 'xstate';
import type { PeerStatus } from '../../cluster/eligibility.ts';
import type { Member } from '../../cluster/view.ts';
import { MemoryEtcd } from '../memory-dcs.ts';
import { incrementClock } from '../sim-clock.ts';
import { type Commit, SimulatedWorld } from '../simulated-postgres/index.ts';
import { DEFAULT_DCS, nodeConfig } from './config.ts';
import { SimulatedGossipNet } from './gossip-net.ts';
import { SimulatedNode } from './node.ts';
import { peerStatus, postFailsafe } from './peers.ts';
import { type RaceWitness, witnessRace } from './race-witness.ts';
import { dynamicConfig, failoverCandidate, streamingReplicas, summarize, syncState } from './readings.ts';
import { immediateQueued, settle } from './settle.ts';
import type {
  ClusterEvent,
  NodeSummary,
  RestMethod,
  RestResponse,
  ScheduledDue,
  SimulatedClusterOptions,
  WriteOutcome,
} from './types.ts';
import { SimulatedWatchdogs } from './watchdog.ts';

/** The name client connections come from (see reject). */
const CLIENT = 'client';

export class SimulatedCluster {
  readonly clock: SimulatedClock;
  readonly store: MemoryEtcd;
  readonly world: SimulatedWorld;
  readonly nodes: SimulatedNode[] = [];
  /** The network the agents gossip over (cut and refused like the rest of the world). */
  readonly gossip: SimulatedGossipNet;
  readonly events: ClusterEvent[] = [];
  readonly scheduledDue: ScheduledDue[] = [];
  /** Every removal by an agent of its data directory while it held a cluster (not by hand). */
  readonly dataRemovals: Array<{ node: string; at: number; timeline: number; lsn: number }> = [];
  /**
   * Every leader key an agent gave up (a release, not an expiry) while its own PostgreSQL still
   * accepted writes and it was not paused: another node may be promoted at once beside it.
   */
  readonly writableReleases: Array<{ node: string; at: number }> = [];
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
  /** Every verdict of a replica that it is the healthiest, with what the others had then (race-witness.ts). */
  readonly raceWitnesses: RaceWitness[] = [];
  /** Members an operator named as the candidate of a switchover or failover (REST, any time). */
  readonly requestedCandidates = new Set<string>();
  readonly pgPollMs: number;
  readonly inspect: ((ev: InspectionEvent) => void) | undefined;
  readonly journals: boolean;
  readonly seed: number;
  /** With SimulatedClusterOptions.watchdog: each node's device, its resets and reboots. */
  readonly watchdogs: SimulatedWatchdogs | null;
  private readonly stepMs: number;
  private readonly prefix: string;
  private started = false;

  constructor(private readonly opts: SimulatedClusterOptions = {}) {
    this.clock = new SimulatedClock();
    this.seed = opts.seed ?? 1;
    this.store = new MemoryEtcd({ clock: this.clock });
    this.world = new SimulatedWorld({ clock: this.clock, seed: this.seed, ...opts.postgres });
    this.gossip = new SimulatedGossipNet(() => this.nodes, this.world);
    this.world.onPromote = (p) => {
      const n = this.nodes.find((x) => x.name === p.node);
      if (n && (n.cutFromDcs() || !this.store.isAvailable())) this.unrecordedPromotions.add(p.segment);
      this.watchdogs?.notePromotion(p.node, this.nodes);
    };
    this.stepMs = opts.stepMs ?? 100;
    this.pgPollMs = opts.pgPollMs ?? 1000;
    this.inspect = opts.inspect;
    this.journals = opts.journals ?? false;
    const scope = opts.scope ?? 'sim';
    const dcs = { ...DEFAULT_DCS, ...opts.dcs };
    const count = opts.nodes ?? 3;
    for (let i = 0; i < count; i++) {
      const name = `node${i + 1}`;
      const config = nodeConfig(opts, scope, dcs, i, name);
      this.nodes.push(new SimulatedNode(this, name, config, this.world.add(name, name, 5432)));
    }
    this.prefix = `${this.nodes[0]?.config.namespace ?? '/service/'}${scope}/`;
    this.watchdogs = opts.watchdog ? new SimulatedWatchdogs(this.nodes, this.clock) : null;
  }

  /** @internal `racer`'s election just judged it the healthiest node: witnessed (race-witness.ts). */
  noteRaceVerdict(racer: SimulatedNode): void {
    const config = this.dynamicConfig();
    const w = witnessRace(
      {
        nodes: this.nodes,
        now: () => this.clock.now(),
        linked: (a, b) => this.world.linked(a, b),
        accepts: (a, b) => this.world.accepts(a, b),
        isMember: (name) => this.store.get(`${this.prefix}members/${name}`) !== undefined,
        reachableAgainAt: (name) => this.reachableAgainAt.get(name) ?? Number.NEGATIVE_INFINITY,
      },
      racer,
      {
        requested: this.requestedCandidates.has(racer.name),
        sync: config?.['synchronous_mode'] === true ? syncState(this.store, this.prefix) : null,
      },
    );
    if (w) this.raceWitnesses.push(w);
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
      // A watchdog that ran out resets its host (and a reset host boots): settle that next step.
      if (this.watchdogs?.tick(this.nodes)) settled = false;
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
            .join('\n')}\n${this.logs.slice(-30).join('\n')}`,
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
    return failoverCandidate(this.store, this.prefix);
  }

  /** The dynamic configuration in /config (null: none yet). */
  dynamicConfig(): Record<string, unknown> | null {
    return dynamicConfig(this.store, this.prefix);
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
    return syncState(this.store, this.prefix);
  }

  /** Nodes whose PostgreSQL accepts writes. */
  primaries(): string[] {
    return this.nodes.filter((n) => n.postgres.writable()).map((n) => n.name);
  }

  /** Nodes whose PostgreSQL streams from an upstream. */
  streamingReplicas(): string[] {
    return streamingReplicas(this.nodes);
  }

  summary(): NodeSummary[] {
    return summarize(this.nodes);
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
    this.noteReachableAgain(a, b);
  }

  /**
   * When each node last became reachable again (a heal, a REJECT rule lifted): a race's probe
   * that began before it did not see the node (see race-witness.ts).
   */
  readonly reachableAgainAt = new Map<string, number>();

  private noteReachableAgain(...names: string[]): void {
    for (const name of names) this.reachableAgainAt.set(name, this.clock.now());
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
    this.noteReachableAgain(name);
  }

  /** Cut one node off from every other node and from the DCS. */
  isolate(name: string): void {
    for (const n of this.nodes) if (n.name !== name) this.world.cut(name, n.name);
    this.node(name).setDcsReachable(false);
  }

  /** Every partition healed, every node reaches the DCS again. */
  healAll(): void {
    this.world.healAll();
    this.noteReachableAgain(...this.nodes.map((n) => n.name));
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

  /** @internal GET /patroni of `member`, asked by `from`, given up after `timeoutMs` (2 s). */
  peerStatus(from: string, member: Member, timeoutMs?: number): Promise<PeerStatus> {
    return peerStatus(this, from, member, timeoutMs);
  }

  /** @internal POST /failsafe from `from` to the member at `apiUrl`. */
  postFailsafe(from: string, apiUrl: string, body: unknown, timeoutMs: number) {
    return postFailsafe(this, from, apiUrl, body, timeoutMs);
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
