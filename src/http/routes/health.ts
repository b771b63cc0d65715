/**
 * Health checks for load balancers and probes. Any GET path without its own route is a
 * health check (Patroni's generic do_GET); HEAD and OPTIONS answer with the status only, for any
 * path: GET-only routes such as /patroni get no HEAD twin (server.ts sets exposeHeadRoutes: false),
 * so a HEAD there falls through to the not-found handler below, i.e. the generic check.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { statusJson } from '../../cluster/report.ts';
import { healthStatus } from '../health-rules.ts';
import { documented, emptyResponse, jsonResponse } from '../openapi.ts';
import type { ApiContext } from '../server.ts';

type Query = Record<string, string | undefined>;

const LAG = {
  type: 'string',
  description:
    'Maximum replication lag: bytes, or a number with a unit (B, kB, MB, GB, TB). A replica whose ' +
    "replayed position is further behind the leader's last known position answers 503.",
  example: '16MB',
};
const TAGS = {
  type: 'object',
  additionalProperties: { type: 'string' },
  description:
    'Any number of `tag_<name>=<value>` parameters: the node answers 503 unless each named tag ' +
    'is set on it with that value (booleans as `true` / `false`).',
  example: { tag_nofailover: 'false' },
};
const WITH_LAG = { type: 'object', style: 'form', explode: true, properties: { lag: LAG, tags: TAGS } };
const TAGS_ONLY = { type: 'object', style: 'form', explode: true, properties: { tags: TAGS } };

interface HealthPath {
  summary: string;
  description: string;
  /** Query parameters that change the answer. */
  query?: typeof WITH_LAG | typeof TAGS_ONLY;
}

const PRIMARY: HealthPath = {
  summary: 'Is this node the primary?',
  description:
    'Primary check: 200 only when the node holds the leader lock and PostgreSQL runs as a primary.',
};
const STANDBY_LEADER: HealthPath = {
  summary: 'Is this node the standby leader?',
  description: 'Standby leader check: 200 only when the node is the leader of a standby cluster.',
};
const REPLICA: HealthPath = {
  summary: 'Is this node a replica?',
  description:
    'Replica check: 200 only when PostgreSQL runs as a replica, the node is in state running and has ' +
    'no `noloadbalance` tag (and, with `lag`, is not lagging).',
  query: WITH_LAG,
};
const READ_ONLY: HealthPath = {
  summary: 'Can this node serve reads?',
  description: 'Like /replica, but the primary (or standby leader) answers 200 as well.',
  query: WITH_LAG,
};
const SYNC: HealthPath = {
  summary: 'Is this node a synchronous standby?',
  description: 'Synchronous standby check: 200 only when the node is a healthy synchronous standby.',
  query: WITH_LAG,
};
const ASYNC: HealthPath = {
  summary: 'Is this node an asynchronous standby?',
  description:
    'Asynchronous standby check: 200 only when the node is a healthy replica that is not a synchronous standby.',
  query: WITH_LAG,
};

/** The documented health-check paths (any other GET path is checked the same way, see below). */
export const HEALTH_PATHS: Readonly<Record<string, HealthPath>> = {
  '/': { ...PRIMARY, summary: 'Is this node the primary? (same as /primary)' },
  '/primary': PRIMARY,
  '/master': { ...PRIMARY, summary: 'Is this node the primary? (same as /primary)' },
  '/read-write': { ...PRIMARY, summary: 'Is this node the primary? (same as /primary)' },
  '/leader': {
    summary: 'Does this node hold the leader lock?',
    description: 'Leader check: 200 when the node holds the leader lock, as primary or as standby leader.',
  },
  '/standby-leader': STANDBY_LEADER,
  '/standby_leader': STANDBY_LEADER,
  '/replica': REPLICA,
  '/read-only': READ_ONLY,
  '/read-only-sync': {
    summary: 'Can this node serve reads synchronously?',
    description: 'Like /synchronous, but the primary (or standby leader) answers 200 as well.',
    query: WITH_LAG,
  },
  '/synchronous': SYNC,
  '/sync': SYNC,
  '/asynchronous': ASYNC,
  '/async': ASYNC,
  '/health': {
    summary: 'Is PostgreSQL up?',
    description: 'Health check: 200 when the node is in state running, whatever its role.',
    query: TAGS_ONLY,
  },
};

const STATUS_ONLY =
  'HEAD and OPTIONS answer with the status code only; GET also sends the status document (as /patroni).';

function healthSchema(path: HealthPath) {
  return documented({
    summary: path.summary,
    description: `${path.description}\n\n${STATUS_ONLY}`,
    tags: ['health'],
    ...(path.query ? { querystring: path.query } : {}),
    response: {
      200: jsonResponse('The check passes. GET: the status document.'),
      503: jsonResponse('The check fails. GET: the status document.'),
    },
  });
}

function probeSchema(summary: string, description: string) {
  return documented({
    summary,
    description,
    tags: ['health'],
    response: {
      200: emptyResponse('The check passes (no body).'),
      503: emptyResponse('The check fails (no body).'),
    },
  });
}

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
    ...probeSchema(
      'Is the HA loop alive?',
      'Liveness probe: 200 while the HA loop runs on time (its next run is less than ttl away on a ' +
        'primary, 2 × ttl on a replica) or the cluster is paused, otherwise 503.',
    ),
    handler: (_q, reply) => statusOnly(reply, liveness()),
  });
  app.route({
    method: ['GET', 'HEAD', 'OPTIONS'],
    url: '/readiness',
    ...probeSchema(
      'Is the node ready?',
      'Readiness probe: 200 when the node holds the leader lock, or is in state running and sees the ' +
        'DCS, otherwise 503.',
    ),
    handler: (_q, reply) => statusOnly(reply, readiness()),
  });

  const check = async (req: FastifyRequest, reply: FastifyReply) => {
    await ctx.freshStatus?.();
    const r = ctx.report();
    const code = healthStatus(pathOf(req), firstValues(req.query), r);
    if (req.method !== 'GET') return statusOnly(reply, code);
    return reply.code(code).type('application/json; charset=utf-8').send(statusJson(r));
  };
  // The documented paths get routes of their own (for the OpenAPI document); they answer exactly
  // as the not-found handler would: `check` reads the path from the request, not the route.
  for (const [url, path] of Object.entries(HEALTH_PATHS)) {
    app.route({ method: ['GET', 'HEAD', 'OPTIONS'], url, ...healthSchema(path), handler: check });
  }
  app.route({
    method: ['OPTIONS'],
    url: '/*',
    ...documented({
      summary: 'Generic health check (any other path)',
      description:
        'Any path without a route of its own is a health check: the path is matched against the ' +
        'documented health paths by substring, as Patroni does (`/foo-replica` is a replica check, ' +
        'an unknown path answers 503). OPTIONS and HEAD answer with the status code only, on any ' +
        'path; GET also sends the status document. Any other method on a path without a route ' +
        'answers 501 `Unsupported method`.',
      tags: ['health'],
      params: { type: 'object', properties: { '*': { type: 'string', description: 'Any path.' } } },
      querystring: WITH_LAG,
      response: {
        200: jsonResponse('The check passes. GET: the status document.'),
        503: jsonResponse('The check fails. GET: the status document.'),
      },
      'x-not-found-methods': ['GET', 'HEAD'],
    }),
    handler: check,
  });
  app.setNotFoundHandler((req, reply) => {
    if (req.method === 'GET' || req.method === 'HEAD') return check(req, reply);
    return reply.code(501).type('text/html').send('Unsupported method');
  });
}
