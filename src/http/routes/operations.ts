/**
 * Operator endpoints: switchover and failover, restart, reload, reinitialize. Validation,
 * status codes and texts follow Patroni's api.py (reference §2.10–2.14) check for check, so
 * patronictl prints the same messages; the actions themselves run in the node machine.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { title } from '../../cluster/manual-failover.ts';
import { postgresVersionToInt } from '../../cluster/versions.ts';
import { isPaused } from '../../cluster/view.ts';
import { parseBool } from '../../config/load.ts';
import { acceptRawBodies, jsonObjectBody } from '../body.ts';
import type { RestartRequest } from '../operations.ts';
import { parseSchedule, parseSeconds } from '../schedule.ts';
import type { ApiContext } from '../server.ts';
import { failoverSchema, SCHEMAS } from './operations-docs.ts';

const mutating = { mutating: true };

function text(reply: FastifyReply, status: number, body: string) {
  return reply.code(status).type('text/html').send(body);
}

/** Python's truth value of a JSON value. */
function pythonTruthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

export async function operationRoutes(app: FastifyInstance, opts: { ctx: ApiContext }): Promise<void> {
  const { ctx } = opts;
  acceptRawBodies(app);

  for (const action of ['switchover', 'failover'] as const) {
    app.post(`/${action}`, { config: mutating, ...failoverSchema(action) }, async (req, reply) => {
      const body = jsonObjectBody(req, true);
      if (!body.ok) return text(reply, body.status, body.text);
      // As Patroni reads them: any truthy JSON value names a member (`{"leader": 5}` is a leader
      // that does not match, 412), a falsy one (null, false, 0, "", [], {}) names none.
      const str = (v: unknown) =>
        pythonTruthy(v) ? (typeof v === 'string' ? v : JSON.stringify(v)) : undefined;
      const leader = str(body.value['leader']);
      const candidate = str(body.value['candidate']) ?? str(body.value['member']);
      const scheduledAt = body.value['scheduled_at'];
      const view = ctx.report().view;

      if (action === 'failover' && !candidate) {
        return text(reply, 400, 'Failover could be performed only to a specific candidate');
      }
      if (action === 'switchover' && !leader) {
        return text(reply, 400, 'Switchover could be performed only from a specific leader');
      }
      if (leader && candidate && leader === candidate) {
        return text(reply, 400, 'Switchover target and source are the same');
      }
      let at: { at: Date; iso: string } | null = null;
      if (scheduledAt !== undefined && scheduledAt !== null && scheduledAt !== '') {
        if (!leader) return text(reply, 400, `Scheduled ${action} is possible only from a specific leader`);
        if (isPaused(view)) return text(reply, 400, `Can't schedule ${action} in the paused state`);
        const parsed = parseSchedule(scheduledAt, action, ctx.now());
        if (!parsed.ok) return text(reply, parsed.status, parsed.text);
        at = parsed;
      }
      if (isPaused(view) && !candidate) {
        return text(
          reply,
          400,
          `${title(action)} is possible only to a specific candidate in a paused state`,
        );
      }
      // The checks that need the cluster and the members, the write and the wait for the
      // outcome: one request to the node (the manualFailover machine), answered by it.
      const answer = await ctx.ops.manualFailover({
        request: { action, leader, candidate, synchronousMode: ctx.report().synchronousMode },
        scheduledAt: at?.iso ?? null,
        view,
        loopWait: ctx.settings().loop_wait,
      });
      return text(reply, answer.status, answer.text);
    });
  }

  app.delete('/switchover', { config: mutating, ...SCHEMAS.deleteSwitchover }, async (_req, reply) => {
    const answer = await ctx.ops.editDcs({ kind: 'cancelScheduledSwitchover' });
    return 'text' in answer
      ? text(reply, answer.status, answer.text)
      : reply.code(answer.status).send(answer.json);
  });

  app.post('/restart', { config: mutating, ...SCHEMAS.restart }, async (req, reply) => {
    const body = jsonObjectBody(req, false);
    if (!body.ok) return text(reply, body.status, body.text);
    if (isPaused(ctx.report().view) && 'schedule' in body.value) {
      return text(reply, 500, "Can't schedule restart in the paused state");
    }
    const request: RestartRequest = {};
    for (const [key, value] of Object.entries(body.value)) {
      if (key === 'schedule') {
        const parsed = parseSchedule(value, 'restart', ctx.now());
        if (!parsed.ok) return text(reply, parsed.status, parsed.text);
        request.schedule = parsed.at;
      } else if (key === 'role') {
        if (value !== 'master' && value !== 'primary' && value !== 'replica') {
          return text(reply, 400, 'PostgreSQL role should be either primary or replica');
        }
        request.role = value === 'replica' ? 'replica' : 'master';
      } else if (key === 'postgres_version') {
        try {
          postgresVersionToInt(String(value));
        } catch (err) {
          return text(reply, 400, (err as Error).message);
        }
        request.postgres_version = String(value);
      } else if (key === 'timeout') {
        const seconds = parseSeconds(value);
        if (seconds === undefined || seconds <= 0) {
          return text(reply, 400, 'Timeout should be a positive number of seconds');
        }
        request.timeout = seconds;
      } else if (key === 'restart_pending') {
        request.restart_pending = true;
      } else {
        return text(reply, 400, `Unknown filter for the scheduled restart: ${key}`);
      }
    }
    const result = await ctx.ops.restart(request);
    return text(reply, result.status, result.text);
  });

  app.delete('/restart', { config: mutating, ...SCHEMAS.deleteRestart }, async (_req, reply) => {
    const result = await ctx.ops.cancelScheduledRestart();
    return text(reply, result.status, result.text);
  });

  app.post('/reload', { config: mutating, ...SCHEMAS.reload }, async (_req, reply) => {
    ctx.ops.reload();
    return text(reply, 202, 'reload scheduled');
  });

  // Patroni's failsafe heartbeat: a leader that cannot reach the DCS asks to be confirmed.
  app.post('/failsafe', { config: mutating, ...SCHEMAS.failsafe }, async (req, reply) => {
    if (!ctx.ops.failsafeMode()) return text(reply, 502, 'Bad Gateway');
    const body = jsonObjectBody(req, true);
    if (!body.ok) return text(reply, body.status, body.text);
    // Patroni reads nothing from an empty object (its `if request:`), and needs the name.
    if (Object.keys(body.value).length === 0) return text(reply, 400, 'Bad Request: empty body');
    const name = body.value['name'];
    if (typeof name !== 'string' || name === '')
      return text(reply, 400, 'Bad Request: name must be a string');
    const result = ctx.ops.failsafe(name);
    return text(reply, result.status, result.text);
  });

  app.post('/reinitialize', { config: mutating, ...SCHEMAS.reinitialize }, async (req, reply) => {
    const body = jsonObjectBody(req, false);
    if (!body.ok) return text(reply, body.status, body.text);
    const result = await ctx.ops.reinitialize(parseBool(body.value['force']) ?? false);
    return text(reply, result.status, result.text);
  });
}
