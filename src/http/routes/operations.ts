/**
 * Operator endpoints: switchover and failover, restart, reload, reinitialize. Validation,
 * status codes and texts follow Patroni's api.py (reference §2.10–2.14) check for check, so
 * patronictl prints the same messages; the actions themselves run in the node machine.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { PeerStatus } from '../../cluster/eligibility.ts';
import { postgresVersionToInt } from '../../cluster/versions.ts';
import type { ClusterView } from '../../cluster/view.ts';
import { parseBool } from '../../config/load.ts';
import { acceptRawBodies, jsonObjectBody } from '../body.ts';
import type { RestartRequest } from '../operations.ts';
import { parseSchedule, parseSeconds } from '../schedule.ts';
import type { ApiContext } from '../server.ts';

const mutating = { mutating: true };

function text(reply: FastifyReply, status: number, body: string) {
  return reply.code(status).type('text/html').send(body);
}

const title = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
const paused = (view: ClusterView | null) => view?.config?.data['pause'] === true;

function failoverLimitation(p: PeerStatus): string | null {
  if (!p.reachable) return 'not reachable';
  if (p.nofailover) return 'not allowed to promote';
  if (p.watchdogFailed) return 'not watchdog capable';
  return null;
}

/** Patroni's is_failover_possible: null when some candidate could take over, else the reason. */
async function failoverImpossible(
  ctx: ApiContext,
  view: ClusterView,
  leader: string | undefined,
  candidate: string | undefined,
  action: string,
): Promise<string | null> {
  if (leader && view.leader?.name !== leader) return 'leader name does not match';
  const sync = ctx.report().synchronousMode ? (view.sync?.sync_standby ?? []) : null;
  let members = view.members;
  if (candidate) {
    if (action === 'switchover' && sync && !sync.includes(candidate)) {
      return 'candidate name does not match with sync_standby';
    }
    members = view.members.filter((m) => m.name === candidate);
    if (members.length === 0) return 'candidate does not exists';
  } else if (sync) {
    members = view.members.filter((m) => sync.includes(m.name));
    if (members.length === 0) return `${action} is not possible: can not find sync_standby`;
  } else {
    members = view.members.filter((m) => m.name !== view.leader?.name && m.data.api_url);
    if (members.length === 0) return `${action} is not possible: cluster does not have members except leader`;
  }
  const statuses = await Promise.all(members.map((m) => ctx.ops.probeMember(m)));
  if (statuses.some((s) => failoverLimitation(s) === null)) return null;
  return `${action} is not possible: no good candidates have been found`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** After writing /failover: watch the cluster until the leader changes, the request is dropped, or time runs out. */
async function awaitOutcome(
  ctx: ApiContext,
  oldLeader: string | undefined,
  candidate: string | undefined,
  action: 'switchover' | 'failover',
): Promise<{ status: number; text: string }> {
  const deadline = ctx.now() + 2 * Math.max(10, ctx.settings().loop_wait) * 1000;
  const done = action === 'switchover' ? 'switched over' : 'failed over';
  let seen = false;
  while (ctx.now() < deadline) {
    await sleep(100);
    const view = ctx.report().view;
    if (!view) continue;
    const now = view.leader?.name;
    // Done when the new leader runs writable (its member key says master), not merely holds the key.
    const promoted = view.members.find((m) => m.name === now)?.data.role === 'master';
    if (now && now !== oldLeader && promoted) {
      if (!candidate || candidate === now) return { status: 200, text: `Successfully ${done} to "${now}"` };
      return { status: 200, text: `${title(done)} to "${now}" instead of "${candidate}"` };
    }
    const pending = !!view.failover && !!(view.failover.leader || view.failover.member);
    // The watch may not have shown our own write yet: "cleared" only counts after "seen".
    if (pending) seen = true;
    else if (seen && now && now === oldLeader) return { status: 503, text: `${title(action)} failed` };
  }
  return { status: 503, text: `${title(action)} status unknown` };
}

export async function operationRoutes(app: FastifyInstance, opts: { ctx: ApiContext }): Promise<void> {
  const { ctx } = opts;
  acceptRawBodies(app);

  for (const action of ['switchover', 'failover'] as const) {
    app.post(`/${action}`, { config: mutating }, async (req, reply) => {
      const body = jsonObjectBody(req, true);
      if (!body.ok) return text(reply, body.status, body.text);
      const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
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
        if (paused(view)) return text(reply, 400, `Can't schedule ${action} in the paused state`);
        const parsed = parseSchedule(scheduledAt, action, ctx.now());
        if (!parsed.ok) return text(reply, parsed.status, parsed.text);
        at = parsed;
      }
      if (paused(view) && !candidate) {
        return text(
          reply,
          400,
          `${title(action)} is possible only to a specific candidate in a paused state`,
        );
      }
      if (!at) {
        const fresh = await ctx.ops.getCluster().catch(() => null);
        if (!fresh) return text(reply, 503, 'DCS is not accessible');
        const why = await failoverImpossible(ctx, fresh, leader, candidate, action);
        if (why) return text(reply, 412, why);
      }
      const value: Record<string, unknown> = {};
      if (leader) value['leader'] = leader;
      if (candidate) value['member'] = candidate;
      if (at) value['scheduled_at'] = at.iso;
      const written = await ctx.ops.setFailover(value).catch(() => false);
      if (!written) return text(reply, 503, `failed to write ${action} key into DCS`);
      if (at) return text(reply, 202, `${title(action)} scheduled`);
      ctx.ops.wake();
      const outcome = await awaitOutcome(ctx, view?.leader?.name ?? leader, candidate, action);
      return text(reply, outcome.status, outcome.text);
    });
  }

  app.delete('/switchover', { config: mutating }, async (_req, reply) => {
    const view = await ctx.ops.getCluster().catch(() => null);
    if (!view) return text(reply, 503, 'DCS is not accessible');
    if (!view.failover?.scheduled_at) return text(reply, 404, 'no switchover is scheduled');
    const cleared = await ctx.ops.setFailover({}, view.failover.index).catch(() => false);
    return cleared ? text(reply, 200, 'scheduled switchover deleted') : text(reply, 409, 'Conflict');
  });

  app.post('/restart', { config: mutating }, async (req, reply) => {
    const body = jsonObjectBody(req, false);
    if (!body.ok) return text(reply, body.status, body.text);
    if (paused(ctx.report().view) && 'schedule' in body.value) {
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

  app.delete('/restart', { config: mutating }, async (_req, reply) => {
    const result = ctx.ops.cancelScheduledRestart();
    return text(reply, result.status, result.text);
  });

  app.post('/reload', { config: mutating }, async (_req, reply) => {
    ctx.ops.reload();
    return text(reply, 202, 'reload scheduled');
  });

  app.post('/reinitialize', { config: mutating }, async (req, reply) => {
    const body = jsonObjectBody(req, false);
    if (!body.ok) return text(reply, body.status, body.text);
    const result = await ctx.ops.reinitialize(parseBool(body.value['force']) ?? false);
    return text(reply, result.status, result.text);
  });
}
