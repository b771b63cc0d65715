/**
 * The REST API's own description: GET /openapi.json, an OpenAPI 3.0.3 document that
 * @fastify/swagger ("dynamic" mode) builds from the schemas the routes are registered with, so
 * the document cannot drift from the routes.
 *
 * Those schemas are documentation only. Every handler of this API checks its input itself, the
 * way Patroni does (bodies are read from raw text: patronictl sends JSON without a
 * Content-Type), with Patroni's status codes and texts; fastify's validation (400 with its own
 * message, type coercion, stripped properties) and its schema-driven serializer (which drops
 * properties a schema does not list) would change them. So a route gets its schema through
 * `documented()`, which also gives the route a validator that accepts everything and a
 * serializer that is fastify's default (`JSON.stringify`).
 *
 * Derived here rather than written per route:
 *  - the Basic-auth security requirement and the 401/403 answers of every route that declares
 *    `config: { mutating: true }` (the very flag security.ts enforces);
 *  - GET and HEAD on any other path (the not-found handler: the generic health check), described
 *    on the wildcard route with `x-not-found-methods`;
 *  - `requestBody.required: false` for routes whose body may be absent (`x-optional-body`).
 */
import fastifySwagger from '@fastify/swagger';
import type { FastifyInstance, FastifySchema, RouteShorthandOptions } from 'fastify';
import { PGWARDEN_VERSION } from '../cluster/report.ts';
import { isGuarded } from './security.ts';

declare module 'fastify' {
  interface FastifySchema {
    /** The request body may be absent (documented as `requestBody.required: false`). */
    'x-optional-body'?: boolean;
    /** Methods the not-found handler answers like this route (documented as more operations). */
    'x-not-found-methods'?: readonly string[];
  }
}

export const BASIC_AUTH = 'basicAuth';

/** A route schema for the document only: fastify neither validates nor serializes with it. */
export function documented(
  schema: FastifySchema,
): Pick<RouteShorthandOptions, 'schema' | 'validatorCompiler' | 'serializerCompiler'> {
  return {
    schema,
    validatorCompiler: () => () => true,
    serializerCompiler: () => (data: unknown) => JSON.stringify(data),
  };
}

// ----- building blocks for route schemas -------------------------------------------------------

/** A plain-text answer (the handlers send `text/html`, as Patroni does), with its fixed texts. */
export function textResponse(description: string, texts: readonly string[] = []): Record<string, unknown> {
  const schema: Record<string, unknown> = { type: 'string' };
  if (texts.length === 1) schema['example'] = texts[0];
  const list = texts.length > 0 ? `\n\n${texts.map((t) => `- \`${t}\``).join('\n')}` : '';
  return { description: `${description}${list}`, content: { 'text/html': { schema } } };
}

/** A JSON object, described loosely: every property of the actual answer is sent. */
export function jsonResponse(
  description: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return { description, type: 'object', additionalProperties: true, ...extra };
}

/** A JSON array, described loosely. */
export function jsonArrayResponse(
  description: string,
  items: Record<string, unknown> = {},
): Record<string, unknown> {
  return { description, type: 'array', items };
}

/** A status code without a body (HEAD, OPTIONS, probes). */
export function emptyResponse(description: string): Record<string, unknown> {
  return { description, type: 'null' };
}

/** A JSON-object request body, documented; read and checked by the handler itself. */
export function jsonBody(description: string, properties: Record<string, unknown>): Record<string, unknown> {
  return { type: 'object', description, properties, additionalProperties: true };
}

/** Answers of the request-body reader (body.ts), shared by the operator endpoints. */
export const BODY_ERRORS = {
  required: [
    'Length Required',
    'Bad Request: empty body',
    'Bad Request: body is not valid JSON (<parser message>)',
    'Bad Request: body must be a JSON object',
  ],
  optional: ['Bad Request: empty body', 'Bad Request: body is not valid JSON (<parser message>)'],
} as const;

// ----- the document ----------------------------------------------------------------------------

const TAGS = [
  {
    name: 'health',
    description: 'Health checks for load balancers and probes: the status code is the answer.',
  },
  {
    name: 'monitoring',
    description:
      'What monitoring and patronictl read (answered from memory, PostgreSQL sampled anew when the last sample is over a second old).',
  },
  { name: 'config', description: 'The dynamic configuration of the cluster, kept in the DCS.' },
  {
    name: 'operations',
    description: 'Operator actions: switchover, failover, restart, reload, reinitialize.',
  },
  { name: 'metrics', description: 'Prometheus metrics.' },
  { name: 'documentation', description: 'This description of the API.' },
];

const DESCRIPTION = [
  'REST API of a pgwarden node. pgwarden is a high-availability manager for PostgreSQL that is',
  'wire-compatible with Patroni 3.0: the paths, query parameters, request bodies, status codes and',
  "answer texts are Patroni 3.0's, so patronictl, HAProxy health checks and Patroni monitoring work",
  'against it unchanged.',
  '',
  'Request bodies are read as JSON whatever their Content-Type (patronictl sends none); a request',
  'that needs a body must carry a Content-Length. Error answers are short `text/html` texts, as in',
  'Patroni.',
  '',
  'Operations that change state require, when `restapi.authentication` is configured, HTTP Basic',
  'authentication; `restapi.allowlist`, `allowlist_include_members` and `verify_client` apply to',
  'them as well. Reading endpoints and health checks are never authenticated.',
].join('\n');

const UNAUTHORIZED = textResponse('Basic authentication is configured and the request does not satisfy it.', [
  'no auth header received',
  'not authenticated',
]);
const FORBIDDEN = textResponse('The client is not in the allowlist, or presented no client certificate.', [
  'Access is denied',
  'client certificate required',
]);

type Operation = Record<string, unknown> & {
  requestBody?: { required?: boolean };
  'x-optional-body'?: boolean;
  'x-not-found-methods'?: readonly string[];
};

function transformObject(doc: Record<string, unknown>): Record<string, unknown> {
  const paths = (doc['paths'] ?? {}) as Record<string, Record<string, Operation>>;
  for (const item of Object.values(paths)) {
    for (const op of Object.values(item)) {
      if (op['x-optional-body'] !== undefined) {
        if (op['x-optional-body'] && op.requestBody) op.requestBody.required = false;
        delete op['x-optional-body'];
      }
    }
    for (const op of Object.values(item)) {
      const methods = op['x-not-found-methods'];
      if (methods === undefined) continue;
      delete op['x-not-found-methods'];
      for (const m of methods) {
        const key = m.toLowerCase();
        if (item[key] === undefined) item[key] = { ...op };
      }
    }
  }
  return doc;
}

/**
 * Registers @fastify/swagger and GET /openapi.json. Call it on the root instance before any
 * route is registered: the document holds the routes registered after it.
 */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(fastifySwagger, {
    mode: 'dynamic',
    // server.ts turns off fastify's automatic HEAD twins; the HEAD routes that exist are real.
    exposeHeadRoutes: true,
    openapi: {
      openapi: '3.0.3',
      info: { title: 'pgwarden', version: PGWARDEN_VERSION, description: DESCRIPTION },
      tags: TAGS,
      components: {
        securitySchemes: {
          [BASIC_AUTH]: {
            type: 'http',
            scheme: 'basic',
            description: 'restapi.authentication (username and password); required only when configured.',
          },
        },
      },
    },
    transform: ({ schema, url, route }) => {
      if (!isGuarded(route.config)) return { schema, url };
      const response = { ...((schema?.response ?? {}) as Record<string, unknown>) };
      response['401'] ??= UNAUTHORIZED;
      response['403'] ??= FORBIDDEN;
      return { schema: { ...schema, security: [{ [BASIC_AUTH]: [] }], response }, url };
    },
    transformObject: (documentObject) =>
      'openapiObject' in documentObject
        ? transformObject(documentObject.openapiObject as Record<string, unknown>)
        : documentObject.swaggerObject,
  });

  app.get(
    '/openapi.json',
    documented({
      summary: 'This document',
      description: 'The OpenAPI 3.0 description of this REST API, generated from the route schemas.',
      tags: ['documentation'],
      response: { 200: jsonResponse('The OpenAPI document.') },
    }),
    async () => app.swagger(),
  );
}
