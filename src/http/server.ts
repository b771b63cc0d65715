/**
 * The REST API: fastify with one plugin per concern. Every GET answers from the in-memory
 * NodeReport (no SQL, no DCS round trip per request).
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { JournalEntry } from '../actors/journal.ts';
import type { AlarmsReading } from '../cluster/orphans.ts';
import type { NodeReport } from '../cluster/report.ts';
import type { NodeConfig } from '../config/types.ts';
import { type VizSource, vizRoutes } from '../viz/ui-routes.ts';
import { registerOpenApi } from './openapi.ts';
import type { Operations } from './operations.ts';
import { configRoutes } from './routes/config.ts';
import { healthRoutes } from './routes/health.ts';
import { insightRoutes } from './routes/insight.ts';
import { type GossipReading, metricsRoutes } from './routes/metrics.ts';
import { monitoringRoutes } from './routes/monitoring.ts';
import { operationRoutes } from './routes/operations.ts';
import { securityPlugin, serverOptions } from './security.ts';

export interface ApiContext {
  report: () => NodeReport;
  /**
   * Waits (a second at most) until the report's PostgreSQL sample is at most a second old: what
   * status routes answer is as fresh as Patroni's, which queries on each request. None: as it is.
   */
  freshStatus?: () => Promise<void>;
  /** Seconds: liveness threshold base (ttl) and HA cadence. */
  settings: () => { ttl: number; loop_wait: number };
  /** Epoch ms of the node's next scheduled loop (for /liveness). */
  nextRun: () => number;
  now: () => number;
  /** The node's configuration as last (re)loaded: restapi auth, TLS, allowlist. */
  config: () => NodeConfig;
  ops: Operations;
  /** The statechart visualizer's live source (GET /ui and its data); none: no visualizer. */
  viz?: () => VizSource;
  /** The gossip channel's links and counters (GET /metrics); none: gossip is off. */
  gossip?: () => GossipReading | undefined;
  /** The orphan primaries this node fenced (GET /cluster's `alarms`, GET /metrics). */
  alarms?: () => AlarmsReading;
  /** The decision journal kept in memory, and the header it began with (GET /journal). */
  journal?: () => { header: JournalEntry | null; entries: readonly JournalEntry[] };
}

export async function buildApi(ctx: ApiContext): Promise<FastifyInstance> {
  // No automatic HEAD twin for GET routes: as in Patroni, HEAD on any path (even /patroni, /cluster,
  // /history, /config) is the generic health check in status-only mode (healthRoutes' not-found handler).
  const app = Fastify({
    logger: false,
    bodyLimit: 1024 * 1024,
    exposeHeadRoutes: false,
    ...serverOptions(ctx.config()),
  });
  // HTTP/1.0-style clients (nc -q, some probes) half-close after sending: the request still
  // deserves its answer, as Patroni gives it.
  (app.server as unknown as { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  // Nothing here tunnels: CONNECT is just another unsupported method.
  app.server.on('connect', (_req, socket) => {
    // Node leaves a socket handed to this listener without an 'error' listener: a reset must not crash us.
    socket.on('error', () => socket.destroy());
    socket.end('HTTP/1.1 501 Unsupported method\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });
  await app.register(securityPlugin, { ctx });
  // Before the routes: GET /openapi.json describes every route registered after it.
  await registerOpenApi(app);
  await app.register(monitoringRoutes, { ctx });
  await app.register(metricsRoutes, { ctx });
  await app.register(configRoutes, { ctx });
  await app.register(operationRoutes, { ctx });
  await app.register(insightRoutes, { ctx });
  if (ctx.viz)
    await app.register(vizRoutes, { source: ctx.viz, enabled: () => ctx.config().restapi.ui !== false });
  await app.register(healthRoutes, { ctx });
  return app;
}
