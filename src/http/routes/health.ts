/**
 * Health checks for load balancers and probes. Any GET path without its own route is a
 * health check (Patroni's generic do_GET); HEAD and OPTIONS answer with the status only, for any
 * path: GET-only routes such as /patroni get no HEAD twin (server.ts sets exposeHeadRoutes: false),
 * so a HEAD there falls through to the not-found handler below, i.e. the generic check.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { statusDocument } from '../../cluster/report.ts';
import { healthStatus } from '../health-rules.ts';
import type { ApiContext } from '../server.ts';

type Query = Record<string, string | undefined>;

function pathOf(req: FastifyRequest): string {
  const url = req.raw.url ?? '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

function firstValues(query: unknown): Query {
  const out: Query = {};
  for (const [k, v] of Object.entries((query ?? {}) as Record<string, unknown>)) {
    out[k] = Array.isArray(v) ? String(v[0]) : typeof v === 'string' ? v : undefined;
  }
  return out;
}

export async function healthRoutes(app: FastifyInstance, opts: { ctx: ApiContext }): Promise<void> {
  const { ctx } = opts;

  const liveness = (): number => {
    const r = ctx.report();
    if (r.paused) return 200;
    const s = ctx.settings();
    const primary = r.pg?.running && !r.pg.inRecovery;
    const threshold = (primary ? s.ttl : 2 * s.ttl) * 1000;
    return ctx.nextRun() + threshold > ctx.now() ? 200 : 503;
  };
  const readiness = (): number => {
    const r = ctx.report();
    if (r.isLeader) return 200;
    return r.state === 'running' && r.view !== null ? 200 : 503;
  };
  const statusOnly = (reply: FastifyReply, code: number) => reply.code(code).send();

  app.route({
    method: ['GET', 'HEAD', 'OPTIONS'],
    url: '/liveness',
    handler: (_q, reply) => statusOnly(reply, liveness()),
  });
  app.route({
    method: ['GET', 'HEAD', 'OPTIONS'],
    url: '/readiness',
    handler: (_q, reply) => statusOnly(reply, readiness()),
  });

  const check = (req: FastifyRequest, reply: FastifyReply) => {
    const r = ctx.report();
    const code = healthStatus(pathOf(req), firstValues(req.query), r);
    if (req.method !== 'GET') return statusOnly(reply, code);
    return reply.code(code).send(statusDocument(r));
  };
  app.route({ method: ['OPTIONS'], url: '/*', handler: check });
  app.route({ method: ['OPTIONS'], url: '/', handler: check });
  app.setNotFoundHandler((req, reply) => {
    if (req.method === 'GET' || req.method === 'HEAD') return check(req, reply);
    return reply.code(501).type('text/html').send('Unsupported method');
  });
}
