/**
 * Operator endpoints: switchover and failover, restart, reload, reinitialize. Validation,
 * status codes and texts follow Patroni's api.py (reference §2.10–2.14) check for check, so
 * patronictl prints the same messages; the actions themselves run in the node machine.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { failoverLimitation, newestTimeline, type PeerStatus } from '../../cluster/eligibility.ts';
import { postgresVersionToInt } from '../../cluster/versions.ts';
import { type ClusterView, isPaused } from '../../cluster/view.ts';
import { dynamicConfigFrom, parseBool } from '../../config/load.ts';
import { acceptRawBodies, jsonObjectBody } from '../body.ts';
import { BODY_ERRORS, documented, jsonBody, textResponse } from '../openapi.ts';
import type { RestartRequest } from '../operations.ts';
import { parseSchedule, parseSeconds } from '../schedule.ts';
import type { ApiContext } from '../server.ts';

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

const title = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/**
 * With check_timeline (pgwarden's default), a candidate whose timeline is older than the cluster's
 * is refused: its promotion would start a second timeline with the number of one that exists,
 * and a replica of the first could neither stream from it nor be rewound against it safely.
 */
function timelineBehind(view: ClusterView, candidate: PeerStatus | undefined): string | null {
  // With a leader running, the candidate follows it and the leader's switchover decides.
  if (view.leader !== null || !candidate?.reachable) return null;
  if (!dynamicConfigFrom(view.config?.data).check_timeline) return null;
  const timeline = newestTimeline(view, []);
  if (candidate.timeline === null || candidate.timeline >= timeline) return null;
  return `candidate ${candidate.name} is on timeline ${candidate.timeline}, older than the cluster's ${timeline} (check_timeline)`;
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
  const behind = candidate ? timelineBehind(view, statuses[0]) : null;
  if (behind !== null) return `${action} is not possible: ${behind}`;
  if (statuses.some((s) => failoverLimitation(s) === null)) return null;
  return `${action} is not possible: no good candidates have been found`;
}

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** After writing /failover: watch the cluster until the leader changes, the request is dropped, or time runs out. */
async function awaitOutcome(
  ctx: ApiContext,
  oldLeader: string | undefined,
  candidate: string | undefined,
  action: 'switchover' | 'failover',
): Promise<{ status: number; text: string }> {
  const wroteAt = ctx.now();
  const deadline = wroteAt + 2 * Math.max(10, ctx.settings().loop_wait) * 1000;
  const done = action === 'switchover' ? 'switched over' : 'failed over';
  let seen = false;
  while (ctx.now() < deadline) {
    await (ctx.sleep ?? realSleep)(100);
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
    // The watch may not have shown our own write yet: "cleared" counts once we saw the request,
    // or a second after writing it (Patroni's first look) — a leader named as the candidate
    // clears it within milliseconds, before any poll sees it.
    if (pending) seen = true;
    else if ((seen || ctx.now() - wroteAt >= 1000) && now && now === oldLeader)
      return { status: 503, text: `${title(action)} failed` };
  }
  return { status: 503, text: `${title(action)} status unknown` };
}

// ----- documentation (OpenAPI); the handlers below check everything themselves ------------------

const SCHEDULE = {
  type: 'string',
  format: 'date-time',
  description: 'When: an ISO 8601 timestamp with a timezone, in the future.',
  example: '2026-11-25T20:00:00+00:00',
};

function failoverSchema(action: 'switchover' | 'failover') {
  const Action = title(action);
  const done = action === 'switchover' ? 'switched over' : 'failed over';
  const switchover = action === 'switchover';
  return documented({
    summary: switchover ? 'Switch over to another member' : 'Fail over to a member',
    description: switchover
      ? "Hands the leadership over from `leader`, as Patroni's POST /switchover (`patronictl " +
        'switchover`): to `candidate`, or to the best member when none is named; at `scheduled_at` ' +
        'when given. Without a schedule the answer waits until a new leader runs writable or the ' +
        'attempt fails (at most 2 × max(10, loop_wait) seconds).'
      : "Makes `candidate` the leader, as Patroni's POST /failover (`patronictl failover`), also " +
        'when there is no healthy leader. The answer waits for the outcome as for /switchover.',
    tags: ['operations'],
    body: jsonBody(`The ${action} request (read as JSON whatever the Content-Type).`, {
      leader: {
        type: 'string',
        description: switchover ? 'The current leader (required).' : 'The current leader, if any.',
      },
      candidate: {
        type: 'string',
        description: switchover ? 'The member to switch over to.' : 'The member to promote (required).',
      },
      member: { type: 'string', description: 'Older name of `candidate`.' },
      scheduled_at: { ...SCHEDULE, description: `${SCHEDULE.description} Requires \`leader\`.` },
    }),
    response: {
      200: textResponse(`The cluster has ${done}.`, [
        `Successfully ${done} to "<member>"`,
        `${title(done)} to "<member>" instead of "<candidate>"`,
      ]),
      202: textResponse(`The ${action} is scheduled.`, [`${Action} scheduled`]),
      400: textResponse('The request is not acceptable.', [
        switchover
          ? 'Switchover could be performed only from a specific leader'
          : 'Failover could be performed only to a specific candidate',
        'Switchover target and source are the same',
        `Scheduled ${action} is possible only from a specific leader`,
        `Can't schedule ${action} in the paused state`,
        `${Action} is possible only to a specific candidate in a paused state`,
        `Timezone information is mandatory for the scheduled ${action}`,
        ...BODY_ERRORS.required.slice(1),
      ]),
      411: textResponse('No Content-Length header.', ['Length Required']),
      412: textResponse(`No member can take over (nothing is written).`, [
        'leader name does not match',
        ...(switchover ? ['candidate name does not match with sync_standby'] : []),
        'candidate does not exists',
        `${action} is not possible: can not find sync_standby`,
        `${action} is not possible: cluster does not have members except leader`,
        `${action} is not possible: no good candidates have been found`,
      ]),
      422: textResponse('`scheduled_at` cannot be used.', [
        'Unable to parse scheduled timestamp. It should be in an unambiguous format, e.g. ISO 8601',
        `Cannot schedule ${action} in the past`,
      ]),
      503: textResponse(`The DCS cannot be used, or the ${action} did not complete in time.`, [
        'DCS is not accessible',
        `failed to write ${action} key into DCS`,
        `${Action} failed`,
        `${Action} status unknown`,
      ]),
    },
  });
}

const RESTART_BODY_400 = [
  'PostgreSQL role should be either primary or replica',
  'Timeout should be a positive number of seconds',
  'Unknown filter for the scheduled restart: <key>',
  'Timezone information is mandatory for the scheduled restart',
  'Invalid PostgreSQL version format: X.Y or X.Y.Z is accepted: <version>',
  'Invalid PostgreSQL version: <version>',
  ...BODY_ERRORS.optional,
  'Bad Request: body must be a JSON object',
];

const SCHEMAS = {
  deleteSwitchover: documented({
    summary: 'Cancel the scheduled switchover',
    description: "Deletes a scheduled switchover or failover from the DCS, as Patroni's DELETE /switchover.",
    tags: ['operations'],
    response: {
      200: textResponse('Deleted.', ['scheduled switchover deleted']),
      404: textResponse('Nothing is scheduled.', ['no switchover is scheduled']),
      409: textResponse('The request changed in the DCS meanwhile.', ['Conflict']),
      503: textResponse('The DCS cannot be read.', ['DCS is not accessible']),
    },
  }),
  restart: documented({
    summary: 'Restart PostgreSQL',
    description:
      "Restarts PostgreSQL on this node, as Patroni's POST /restart (`patronictl restart`), now or at " +
      '`schedule`. The other keys are conditions: the restart happens only when all of them hold.',
    tags: ['operations'],
    'x-optional-body': true,
    body: jsonBody('Optional (read as JSON whatever the Content-Type).', {
      schedule: SCHEDULE,
      role: {
        type: 'string',
        enum: ['primary', 'master', 'replica'],
        description: 'Only if the node has this role.',
      },
      postgres_version: {
        type: 'string',
        description: 'Only if the running PostgreSQL is older than this version.',
        example: '15.4',
      },
      timeout: {
        oneOf: [{ type: 'number' }, { type: 'string' }],
        description: 'Seconds (or a number with a unit: ms, s, min, h, d) to wait for the restart.',
        example: '30s',
      },
      restart_pending: {
        type: 'boolean',
        description: 'Only if PostgreSQL needs a restart for its settings.',
      },
    }),
    response: {
      200: textResponse('PostgreSQL restarted.', ['restarted successfully']),
      202: textResponse('The restart is scheduled.', ['Restart scheduled']),
      400: textResponse('The request is not acceptable.', RESTART_BODY_400),
      409: textResponse('A restart is already scheduled.', ['Another restart is already scheduled']),
      422: textResponse('`schedule` cannot be used.', [
        'Unable to parse scheduled timestamp. It should be in an unambiguous format, e.g. ISO 8601',
        'Cannot schedule restart in the past',
      ]),
      500: textResponse('Scheduling while paused.', ["Can't schedule restart in the paused state"]),
      503: textResponse('The restart did not happen.', [
        'restart conditions are not satisfied',
        'postgres is still starting',
        '<action> already in progress',
        'restart failed',
      ]),
    },
  }),
  deleteRestart: documented({
    summary: 'Cancel the scheduled restart',
    description: "Cancels this node's scheduled restart, as Patroni's DELETE /restart.",
    tags: ['operations'],
    response: {
      200: textResponse('Cancelled.', ['scheduled restart deleted']),
      404: textResponse('Nothing is scheduled.', ['no restarts are scheduled']),
    },
  }),
  reload: documented({
    summary: 'Reload the configuration',
    description:
      "Re-reads the node's configuration file and applies it (PostgreSQL is reloaded if its settings " +
      "changed), as Patroni's POST /reload (`patronictl reload`).",
    tags: ['operations'],
    response: { 202: textResponse('The reload is scheduled.', ['reload scheduled']) },
  }),
  failsafe: documented({
    summary: 'Failsafe heartbeat from the primary',
    description:
      'pgwarden has no failsafe mode: 502, as Patroni answers with `failsafe_mode` off (after the ' +
      'same access checks).',
    tags: ['operations'],
    response: { 502: textResponse('Failsafe mode is not supported.', ['Bad Gateway']) },
  }),
  reinitialize: documented({
    summary: 'Reinitialize this replica',
    description:
      "Wipes this replica's data directory and clones it again from a member, as Patroni's POST " +
      '/reinitialize (`patronictl reinit`).',
    tags: ['operations'],
    'x-optional-body': true,
    body: jsonBody('Optional (read as JSON whatever the Content-Type).', {
      force: {
        type: 'boolean',
        description: "Patroni's flag to cancel a task in progress first (accepted).",
      },
    }),
    response: {
      200: textResponse('The reinitialization started.', ['reinitialize started']),
      400: textResponse('The body is not acceptable.', [
        ...BODY_ERRORS.optional,
        'Bad Request: body must be a JSON object',
      ]),
      503: textResponse('The node cannot be reinitialized now.', [
        'Cluster has no leader, can not reinitialize',
        'I am the leader, can not reinitialize',
        '<action> already in progress',
      ]),
    },
  }),
};

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

  app.delete('/switchover', { config: mutating, ...SCHEMAS.deleteSwitchover }, async (_req, reply) => {
    const view = await ctx.ops.getCluster().catch(() => null);
    if (!view) return text(reply, 503, 'DCS is not accessible');
    if (!view.failover?.scheduled_at) return text(reply, 404, 'no switchover is scheduled');
    const cleared = await ctx.ops.setFailover({}, view.failover.index).catch(() => false);
    return cleared ? text(reply, 200, 'scheduled switchover deleted') : text(reply, 409, 'Conflict');
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
    const result = ctx.ops.cancelScheduledRestart();
    return text(reply, result.status, result.text);
  });

  app.post('/reload', { config: mutating, ...SCHEMAS.reload }, async (_req, reply) => {
    ctx.ops.reload();
    return text(reply, 202, 'reload scheduled');
  });

  app.post('/failsafe', { config: mutating, ...SCHEMAS.failsafe }, async (_req, reply) =>
    text(reply, 502, 'Bad Gateway'),
  );

  app.post('/reinitialize', { config: mutating, ...SCHEMAS.reinitialize }, async (req, reply) => {
    const body = jsonObjectBody(req, false);
    if (!body.ok) return text(reply, body.status, body.text);
    const result = await ctx.ops.reinitialize(parseBool(body.value['force']) ?? false);
    return text(reply, result.status, result.text);
  });
}
