/**
 * pgwarden's own reads for operators, beside Patroni's API: GET /failover-plan (who would take
 * over if the leader died now, and why the others would not) and GET /journal (recent entries of
 * the decision journal, for scripts and support; operator-only, as it holds every event).
 */
import type { FastifyInstance } from 'fastify';
import type { FailoverPlan } from '../../cluster/failover-plan.ts';
import { parseInstant } from '../../replay/instant.ts';
import { documented, jsonResponse } from '../openapi.ts';
import type { ApiContext } from '../server.ts';

/** The plan as JSON, in the snake_case of Patroni's documents. */
export function planJson(plan: FailoverPlan): Record<string, unknown> {
  return {
    leader: plan.leader,
    leader_position: plan.leaderPosition,
    candidates: plan.candidates,
    max_data_loss_bytes: plan.maxDataLossBytes,
    synchronous_mode: plan.synchronousMode,
    paused: plan.paused,
    members: plan.members.map((m) => ({
      name: m.name,
      role: m.role,
      takes_over: m.takesOver,
      reason: m.reason,
      wal_position: m.walPosition,
      timeline: m.timeline,
      lag_bytes: m.lagBytes,
    })),
  };
}

/** `since`: epoch ms or ISO 8601; null when absent, undefined when not a time. */
function parseSince(text: unknown): number | null | undefined {
  if (text === undefined) return null;
  if (typeof text !== 'string') return undefined;
  return parseInstant(text) ?? undefined;
}

export async function insightRoutes(app: FastifyInstance, opts: { ctx: ApiContext }): Promise<void> {
  const { ctx } = opts;
  app.get(
    '/failover-plan',
    documented({
      summary: 'Who would take over if the leader died now',
      description:
        "Every member's status asked now, then the election's own rule (judgeHealthiest) applied " +
        "from each member's point of view to the cluster without its leader: the candidates (the first " +
        'to take the lock wins), why each other member would not take over (lag, nofailover, not in ' +
        '/sync, unreachable, paused), and the most WAL the new leader could lack (0 in synchronous mode).',
      tags: ['monitoring'],
      response: {
        200: jsonResponse('`{"leader", "candidates", "max_data_loss_bytes", "members": [...], ...}`.'),
        503: jsonResponse('The node has no view of the DCS: `{"error": "DCS is not accessible"}`.'),
      },
    }),
    async (_req, reply) => {
      const plan = await ctx.ops.failoverPlan();
      if (!plan) return reply.code(503).send({ error: 'DCS is not accessible' });
      return planJson(plan);
    },
  );
  app.get(
    '/journal',
    {
      config: { operatorOnly: true },
      ...documented({
        summary: 'Recent decision journal entries',
        description:
          "The newest entries of this node's decision journal kept in memory (every event each " +
          'machine received, every state it moved to with the guards that chose it), oldest first, ' +
          'after the header naming the machine definitions: `?since=` (epoch ms or ISO 8601, ' +
          'inclusive) and `?limit=` (the last N). The same entries as the journal file that ' +
          '`pgwarden replay` reads (the file holds them all; this is the ring kept in memory).',
        tags: ['monitoring'],
        querystring: {
          type: 'object',
          properties: { since: { type: 'string' }, limit: { type: 'string' } },
        },
        response: {
          200: jsonResponse('`{"header": {...} | null, "entries": [...]}`.'),
          400: jsonResponse('`since` or `limit` is not valid: `{"error": "..."}`.'),
        },
      }),
    },
    async (req, reply) => {
      const query = req.query as Record<string, unknown>;
      const since = parseSince(query['since']);
      if (since === undefined)
        return reply.code(400).send({ error: 'since must be epoch milliseconds or an ISO 8601 time' });
      const limitText = query['limit'];
      const limit = limitText === undefined ? null : Number(limitText);
      if (limit !== null && (!Number.isInteger(limit) || limit < 1))
        return reply.code(400).send({ error: 'limit must be a whole number, at least 1' });
      const journal = ctx.journal?.();
      let entries = (journal?.entries ?? []).filter(
        (e) => e.kind !== 'header' && (since === null || e.t >= since),
      );
      if (limit !== null) entries = entries.slice(-limit);
      return { header: journal?.header ?? null, entries };
    },
  );
}
