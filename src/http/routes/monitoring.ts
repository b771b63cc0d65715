/** GET /patroni, /cluster, /history, /config: what monitoring and patronictl read. */
import type { FastifyInstance } from 'fastify';
import { statusDocument } from '../../cluster/report.ts';
import { clusterAsJson } from '../cluster-json.ts';
import type { ApiContext } from '../server.ts';

export async function monitoringRoutes(app: FastifyInstance, opts: { ctx: ApiContext }): Promise<void> {
  const { ctx } = opts;
  app.get('/patroni', async () => statusDocument(ctx.report()));
  app.get('/cluster', async (_req, reply) => {
    const r = ctx.report();
    if (!r.view) return reply.code(503).send({ error: 'DCS is not accessible' });
    return clusterAsJson(r.view, r.scope);
  });
  app.get('/history', async () => ctx.report().view?.history ?? []);
  app.get('/config', async (_req, reply) => {
    const config = ctx.report().view?.config;
    if (!config) return reply.code(502).type('text/html').send('Bad Gateway');
    return config.data;
  });
}
