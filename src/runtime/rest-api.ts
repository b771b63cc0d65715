/**
 * This node's REST API: built on first use from what the routes read and call (ApiContext).
 * start() listens on it; without serveApi (the simulator, embedding tests) requests reach it in
 * process through `inject`, on the same routes and with the same answers; requests that wait
 * (POST /switchover) wait in the node's actors, on the agent's clock.
 */
import type { FastifyInstance } from 'fastify';
import type { Journal } from '../actors/journal.ts';
import type { AlarmsReading } from '../cluster/orphans.ts';
import type { NodeReport } from '../cluster/report.ts';
import type { Operations } from '../http/operations.ts';
import type { GossipReading } from '../http/routes/metrics.ts';
import { type ApiContext, buildApi } from '../http/server.ts';
import { attachUpgrades } from '../http/upgrades.ts';
import type { GossipServer } from '../transport/gossip-ws.ts';
import type { NodeCore } from './core.ts';
import type { Visualizer } from './visualizer.ts';

export type RestApiHost = Pick<NodeCore, 'clock' | 'config' | 'settings'> & {
  report(): NodeReport;
  /** A PostgreSQL sample at most a second old (PostgresSampler.fresh). */
  freshStatus(): Promise<void>;
  /** When the next HA loop runs. */
  nextRun(): number;
  ops: Operations;
  journal?: Journal;
  /** The statechart visualizer (GET /ui and the journal streams); none: no visualizer. */
  visualizer?: Visualizer;
  /** The gossip channel's `/gossip` upgrade. */
  gossip?: GossipServer;
  /** The gossip channel's counters, while it runs. */
  gossipReading?: () => GossipReading | undefined;
  alarms?: () => AlarmsReading;
};

export class RestApi {
  /** The fastify instance, once built. */
  server: FastifyInstance | null = null;
  private built: Promise<FastifyInstance> | null = null;

  constructor(private readonly h: RestApiHost) {}

  build(): Promise<FastifyInstance> {
    this.built ??= buildApi(this.context()).then((api) => {
      this.server = api;
      attachUpgrades(
        api,
        new Map([...(this.h.visualizer?.upgrades() ?? []), ...(this.h.gossip?.upgrades() ?? [])]),
      );
      return api;
    });
    return this.built;
  }

  /** What the REST routes read and call: this node's report, settings, clock and operations. */
  context(): ApiContext {
    const { h } = this;
    return {
      report: () => h.report(),
      freshStatus: () => h.freshStatus(),
      settings: () => h.settings(),
      nextRun: () => h.nextRun(),
      now: () => h.clock.now(),
      config: () => h.config(),
      ops: h.ops,
      journal: h.journal
        ? () => ({ header: h.journal!.headerEntry(), entries: h.journal!.entries() })
        : undefined,
      viz: h.visualizer ? () => h.visualizer!.source() : undefined,
      gossip: h.gossipReading,
      alarms: h.alarms,
    };
  }

  async close(): Promise<void> {
    // Open WebSockets would keep the server from closing.
    this.h.visualizer?.close();
    this.h.gossip?.close();
    await this.server?.close();
  }
}
