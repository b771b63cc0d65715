/** GET /patroni, /cluster, /history, /config: what monitoring and patronictl read. */

import type { FastifyInstance } from 'fastify';
import { clusterAlarms } from '../../cluster/orphans.ts';
import { statusJson } from '../../cluster/report.ts';
import { clusterAsJson } from '../cluster-json.ts';
import { documented, jsonArrayResponse, jsonResponse, textResponse } from '../openapi.ts';
import type { ApiContext } from '../server.ts';

export async function monitoringRoutes(app: FastifyInstance, opts: { ctx: ApiContext }): Promise<void> {
  const { ctx } = opts;
  app.get(
    '/patroni',
    documented({
      summary: 'Status of this node',
      description:
        "The node's status document, as Patroni's GET /patroni: state, role, PostgreSQL timeline and " +
        'WAL positions, replication, pending restart, tags, the Patroni version it is compatible with ' +
        '(plus a `pgwarden` object). PostgreSQL is queried anew when the last sample is over a second old.',
      tags: ['monitoring'],
      response: { 200: jsonResponse('The status document.') },
    }),
    async (_req, reply) => {
      await ctx.freshStatus?.();
      return reply.type('application/json; charset=utf-8').send(statusJson(ctx.report()));
    },
  );
  app.get(
    '/cluster',
    documented({
      summary: 'Members of the cluster',
      description:
        "The cluster as the node last saw it in the DCS, as Patroni's GET /cluster (what " +
        '`patronictl list` shows): members with role, state, host, port, timeline and lag, and a ' +
        'scheduled switchover, if any.',
      tags: ['monitoring'],
      response: {
        200: jsonResponse('`{"members": [...], "scope": ...}`.'),
        503: jsonResponse('The node has no view of the DCS: `{"error": "DCS is not accessible"}`.'),
      },
    }),
    async (_req, reply) => {
      const r = ctx.report();
      if (!r.view) return reply.code(503).send({ error: 'DCS is not accessible' });
      const doc = clusterAsJson(r.view, r.scope);
      // pgwarden's own: the orphan primaries any member fenced in the last hour (Patroni has no such key).
      const alarms = clusterAlarms(r.view, r.name, ctx.alarms?.().list ?? [], ctx.now());
      if (alarms.length) doc['alarms'] = alarms;
      return doc;
    },
  );
  app.get(
    '/history',
    documented({
      summary: 'Timeline history',
      description:
        "The cluster's timeline history, as Patroni's GET /history: one " +
        '`[timeline, lsn, reason, timestamp, new leader]` entry per promotion.',
      tags: ['monitoring'],
      response: {
        200: jsonArrayResponse('The history entries (empty when unknown).', { type: 'array', items: {} }),
      },
    }),
    async () => ctx.report().view?.history ?? [],
  );
  app.get(
    '/config',
    documented({
      summary: 'Dynamic configuration',
      description: 'The dynamic configuration stored in the DCS (`/config` key), as the node last saw it.',
      tags: ['config'],
      response: {
        200: jsonResponse('The configuration object.'),
        502: textResponse('The node has no configuration from the DCS.', ['Bad Gateway']),
      },
    }),
    async (_req, reply) => {
      const config = ctx.report().view?.config;
      if (!config) return reply.code(502).type('text/html').send('Bad Gateway');
      return config.data;
    },
  );
  app.get(
    '/failsafe',
    documented({
      summary: 'Failsafe topology',
      description:
        'The `/failsafe` key as the node last saw it: every member the leader names for failsafe mode, ' +
        '`{name: api_url}`. 502 when there is none (failsafe mode never on, or not a JSON object), as Patroni.',
      tags: ['monitoring'],
      response: {
        200: jsonResponse('The failsafe topology.'),
        502: textResponse('No failsafe topology.', ['Bad Gateway']),
      },
    }),
    async (_req, reply) => {
      const failsafe = ctx.report().view?.failsafe;
      if (!failsafe) return reply.code(502).type('text/html').send('Bad Gateway');
      return failsafe;
    },
  );
}
