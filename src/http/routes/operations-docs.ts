/**
 * OpenAPI documentation of the operator endpoints (operations.ts): request bodies, answers and
 * their texts as Patroni gives them. The handlers check everything themselves.
 */

import { standbyLeaderStays, title } from '../../cluster/manual-failover.ts';
import { BODY_ERRORS, documented, jsonBody, textResponse } from '../openapi.ts';

const SCHEDULE = {
  type: 'string',
  format: 'date-time',
  description: 'When: an ISO 8601 timestamp with a timezone, in the future.',
  example: '2026-11-25T20:00:00+00:00',
};

export function failoverSchema(action: 'switchover' | 'failover') {
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
        standbyLeaderStays(action),
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

export const SCHEMAS = {
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
      'Failsafe mode (`failsafe_mode` in /config): a leader that cannot reach the DCS asks each member ' +
      'named in /failsafe to confirm it. A member that is not running as a primary accepts and does not ' +
      'race for a ttl, a view without a leader key notwithstanding. 502 with failsafe mode off, as Patroni.',
    tags: ['operations'],
    body: jsonBody('Sent by the leader.', {
      name: { type: 'string', description: "The leader's member name." },
      conn_url: { type: 'string', description: "The leader's PostgreSQL URL." },
      api_url: { type: 'string', description: "The leader's REST API URL." },
    }),
    response: {
      200: textResponse('The leader is confirmed.', ['Accepted']),
      400: textResponse('The body is not acceptable.', [
        ...BODY_ERRORS.required.slice(1),
        'Bad Request: name must be a string',
      ]),
      411: textResponse('No Content-Length header.', ['Length Required']),
      500: textResponse('This node runs as a primary (or is taking the lock).', ['Running as a leader']),
      502: textResponse('Failsafe mode is off.', ['Bad Gateway']),
      503: textResponse('The node is starting or stopping.', ['Not ready to confirm a leader']),
    },
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
