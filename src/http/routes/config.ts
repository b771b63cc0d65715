/**
 * PATCH /config and PUT /config: change the dynamic configuration in the DCS, as Patroni's
 * do_PATCH_config / do_PUT_config do. The route reads and validates the body; the node's dcsEdit
 * machine reads the cluster, merges (src/cluster/dcs-edits.ts, Patroni's rules in
 * src/config/patch-config.ts), writes and answers.
 *
 * Bodies: patronictl sends JSON without a Content-Type, curl -d sends a form type, so this
 * plugin (encapsulated: other routes keep fastify's parsers) reads every body as text and parses
 * it here. Content-Length is required (411), the body must be a non-empty JSON object (400),
 * and it may not exceed the server's bodyLimit (413).
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DcsEdit } from '../../cluster/dcs-edits.ts';
import { isDict, PyFloat, parsePyJson, plainJson } from '../../config/patch-config.ts';
import { toInt } from '../../config/scalars.ts';
import { documented, jsonBody, jsonResponse, textResponse } from '../openapi.ts';
import type { ApiContext } from '../server.ts';

type Dict = Record<string, unknown>;

/** Settings the HA loop reads as non-negative integers (seconds, bytes). */
const INTEGER_SETTINGS = ['ttl', 'loop_wait', 'retry_timeout', 'maximum_lag_on_failover'] as const;

/**
 * Our deliberate departure from Patroni 3.x, which has no schema: a value the node cannot use for
 * one of these settings (`"30s"`, `true`, a negative number) would be written to the DCS and then
 * silently replaced by the default on every node (dynamicConfigFrom), and a fraction would be
 * truncated, so the cluster would run with timings nobody asked for. Such a request is refused
 * with 400 before anything is written: never a half-applied change. What the node reads as the
 * same integer (an integral string such as `"30"`, `30.0`) is accepted, and `null` (delete:
 * back to the default) is fine.
 */
export function invalidSetting(body: Dict): string | null {
  for (const key of INTEGER_SETTINGS) {
    if (!Object.hasOwn(body, key)) continue;
    const v = body[key];
    if (v === null) continue;
    const n = v instanceof PyFloat ? v.value : v;
    const int = typeof n === 'number' && !Number.isInteger(n) ? undefined : toInt(n);
    if (int === undefined || int < 0) {
      return `Bad Request: ${key} must be a non-negative integer, got ${JSON.stringify(plainJson(v))}`;
    }
  }
  return null;
}

function sendText(reply: FastifyReply, code: number, text: string): FastifyReply {
  return reply.code(code).type('text/html; charset=utf-8').send(text);
}

/** The JSON object of a required body, or null after answering 411/400 (Patroni's _read_json_content). */
function readBody(req: FastifyRequest, reply: FastifyReply): Dict | null {
  if (req.headers['content-length'] === undefined) {
    sendText(reply, 411, 'Length Required: a Content-Length header is required');
    return null;
  }
  const raw = typeof req.body === 'string' ? req.body : '';
  let parsed: unknown;
  try {
    parsed = raw.trim() === '' ? undefined : parsePyJson(raw);
  } catch {
    parsed = undefined;
  }
  if (!isDict(parsed) || Object.keys(parsed).length === 0) {
    sendText(reply, 400, 'Bad Request: body must be a non-empty JSON object');
    return null;
  }
  const invalid = invalidSetting(parsed);
  if (invalid !== null) {
    sendText(reply, 400, invalid);
    return null;
  }
  return parsed;
}

const CONFIG_PROPERTIES = {
  ttl: { type: 'integer', minimum: 0, description: 'Leader lock TTL, seconds.' },
  loop_wait: { type: 'integer', minimum: 0, description: 'Seconds between HA loop runs.' },
  retry_timeout: { type: 'integer', minimum: 0, description: 'DCS and PostgreSQL retry timeout, seconds.' },
  maximum_lag_on_failover: {
    type: 'integer',
    minimum: 0,
    description: 'Bytes a replica may lag behind and still be promoted.',
  },
  pause: { type: 'boolean', description: 'Maintenance mode: no automatic failover.' },
  synchronous_mode: { type: 'boolean' },
  postgresql: { type: 'object', additionalProperties: true, description: 'parameters, use_pg_rewind, ...' },
};

const BODY_400 = [
  'Bad Request: body must be a non-empty JSON object',
  'Bad Request: <setting> must be a non-negative integer, got <value>',
];

function configSchema(method: 'PATCH' | 'PUT') {
  const patch = method === 'PATCH';
  const response: Record<string, unknown> = {
    200: jsonResponse(patch ? 'The configuration after the merge.' : 'The configuration written.'),
    400: textResponse(
      'The body is not a non-empty JSON object, or ttl, loop_wait, retry_timeout or ' +
        'maximum_lag_on_failover is not a non-negative integer (nothing is written).',
      BODY_400,
    ),
    411: textResponse('No Content-Length header.', ['Length Required: a Content-Length header is required']),
    413: textResponse('The body exceeds the server limit.', [
      'Payload Too Large: the body may not exceed <bodyLimit> bytes',
    ]),
  };
  if (patch) {
    response['409'] = textResponse('The configuration changed in the DCS since it was read.', ['Conflict']);
    response['503'] = textResponse('The DCS cannot be read, or holds no configuration.', [
      'Service Unavailable: DCS is not accessible',
      'Service Unavailable: the cluster has no configuration in the DCS',
    ]);
  } else {
    response['502'] = textResponse('The configuration could not be written.', [
      'Bad Gateway: could not write the configuration to the DCS',
    ]);
    response['503'] = textResponse('The DCS cannot be read.', ['Service Unavailable: DCS is not accessible']);
  }
  return documented({
    summary: patch ? 'Change the dynamic configuration' : 'Replace the dynamic configuration',
    description: patch
      ? "Merges the body into the cluster's dynamic configuration in the DCS, as Patroni's PATCH " +
        '/config (`patronictl edit-config`): objects are merged key by key, `null` deletes a key. ' +
        'The write is a compare-and-set on the configuration read.'
      : "Replaces the cluster's dynamic configuration in the DCS with the body, as Patroni's PUT " +
        '/config (written when it differs; also when the DCS holds none yet).',
    tags: ['config'],
    body: jsonBody(
      patch
        ? 'Settings to change (read as JSON whatever the Content-Type; `null` removes a setting).'
        : 'The whole new configuration (read as JSON whatever the Content-Type).',
      CONFIG_PROPERTIES,
    ),
    response,
  });
}

export async function configRoutes(app: FastifyInstance, opts: { ctx: ApiContext }): Promise<void> {
  const { ctx } = opts;

  // Any Content-Type (or none): the raw text, parsed in readBody. Scoped to this plugin.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));

  // Only the size limit is ours to phrase; anything else goes on to the server's error handler.
  app.setErrorHandler((err: FastifyError, _req, reply) => {
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return sendText(
        reply,
        413,
        `Payload Too Large: the body may not exceed ${app.initialConfig.bodyLimit} bytes`,
      );
    }
    throw err;
  });

  /** The node plans and makes the edit (the dcsEdit machine); its answer is sent as it is. */
  const edit = async (reply: FastifyReply, request: DcsEdit): Promise<FastifyReply> => {
    const answer = await ctx.ops.editDcs(request);
    return 'text' in answer
      ? sendText(reply, answer.status, answer.text)
      : reply.code(answer.status).send(answer.json);
  };

  app.patch('/config', { config: { mutating: true }, ...configSchema('PATCH') }, async (req, reply) => {
    const patch = readBody(req, reply);
    if (patch === null) return reply;
    return edit(reply, { kind: 'patchConfig', patch });
  });

  app.put('/config', { config: { mutating: true }, ...configSchema('PUT') }, async (req, reply) => {
    const config = readBody(req, reply);
    if (config === null) return reply;
    return edit(reply, { kind: 'replaceConfig', config });
  });
}
