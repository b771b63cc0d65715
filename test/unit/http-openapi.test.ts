/**
 * GET /openapi.json: the OpenAPI document generated from the route schemas. Every route the app
 * registers must be documented in it (a new route without a schema fails here), operations that
 * change state carry the Basic-auth requirement exactly where security.ts enforces it, and the
 * schemas stay documentation only (no fastify validation or serialization).
 */
import { formatParamUrl } from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NodeReport, PGWARDEN_VERSION, statusDocument } from '../../src/cluster/report.ts';
import { type ClusterView, emptyClusterView } from '../../src/cluster/view.ts';
import { buildApi } from '../../src/http/server.ts';
import { FakeOps } from '../helpers/fake-ops.ts';
import { makeNodeConfig } from '../helpers/pg-config.ts';

const NOW = 1_795_637_532_000;

const view: ClusterView = {
  ...emptyClusterView,
  revision: '30',
  initialize: '7123456789012345678',
  config: { index: '2', data: { ttl: 30, loop_wait: 10 } },
  leader: { name: 'pg1', index: '3', session: '1' },
  members: [],
};

const report: NodeReport = {
  name: 'pg1',
  scope: 'batman',
  connUrl: 'postgres://10.0.0.1:5432/postgres',
  apiUrl: 'http://10.0.0.1:8008/patroni',
  tags: {},
  state: 'running',
  role: 'master',
  pg: null,
  systemIdentifier: '7123456789012345678',
  isLeader: true,
  view,
  dcsLastSeen: 1795637530,
  paused: false,
  synchronousMode: false,
};

const config = makeNodeConfig({ name: 'pg1', pgPort: 5432, apiPort: 8008, dataDir: '/tmp/pgwarden-unused' });
const AUTH = `Basic ${Buffer.from('admin:admin-pass').toString('base64')}`;

type Json = Record<string, unknown>;
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const MUTATING_METHODS = new Set(['post', 'put', 'patch', 'delete']);

let app: FastifyInstance;
let doc: Json;
let paths: Record<string, Record<string, Json>>;

beforeAll(async () => {
  app = await buildApi({
    report: () => report,
    settings: () => ({ ttl: 30, loop_wait: 10 }),
    nextRun: () => NOW + 10_000,
    now: () => NOW,
    config: () => config,
    ops: new FakeOps(),
  });
  const res = await app.inject({ method: 'GET', url: '/openapi.json' });
  expect(res.statusCode).toBe(200);
  doc = res.json();
  paths = doc['paths'] as typeof paths;
});

afterAll(async () => {
  await app.close();
});

/**
 * Every method + url the app routes, read from printRoutes' tree (with commonPrefix: false each
 * line is one radix-tree node: its segment, appended to its parent's, and its methods).
 */
function registeredRoutes(a: FastifyInstance): Array<{ method: string; url: string }> {
  const out: Array<{ method: string; url: string }> = [];
  const stack: string[] = [];
  for (const line of a.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^((?:│ {3}| {4})*)(?:├── |└── )(.*?)(?: \(([A-Z, ]+)\))?$/u.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    stack.length = depth;
    stack.push(m[2]!);
    const url = stack.join('');
    for (const method of (m[3] ?? '').split(',').map((s) => s.trim())) {
      if (method) out.push({ method, url });
    }
  }
  return out;
}

function operations(): Array<{ path: string; method: string; op: Json }> {
  const out: Array<{ path: string; method: string; op: Json }> = [];
  for (const [path, item] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(item)) out.push({ path, method, op });
  }
  return out;
}

/** OpenAPI 3.0's Schema Object is a subset of JSON Schema: no `type: 'null'`, no type arrays, ... */
function schemaProblems(schema: unknown, where: string): string[] {
  if (typeof schema !== 'object' || schema === null) return [`${where}: not an object`];
  const s = schema as Json;
  const problems: string[] = [];
  if (
    'type' in s &&
    !['array', 'boolean', 'integer', 'number', 'object', 'string'].includes(s['type'] as string)
  ) {
    problems.push(`${where}: type ${JSON.stringify(s['type'])}`);
  }
  for (const key of ['patternProperties', 'const', '$id', '$schema', 'examples', 'if', 'propertyNames']) {
    if (key in s) problems.push(`${where}: ${key} is not OpenAPI 3.0`);
  }
  if (s['type'] === 'array' && !('items' in s)) problems.push(`${where}: array without items`);
  for (const [key, sub] of Object.entries((s['properties'] ?? {}) as Json)) {
    problems.push(...schemaProblems(sub, `${where}.${key}`));
  }
  if (typeof s['items'] === 'object') problems.push(...schemaProblems(s['items'], `${where}[]`));
  if (typeof s['additionalProperties'] === 'object') {
    problems.push(...schemaProblems(s['additionalProperties'], `${where}.*`));
  }
  for (const key of ['oneOf', 'anyOf', 'allOf']) {
    for (const [i, sub] of ((s[key] ?? []) as unknown[]).entries()) {
      problems.push(...schemaProblems(sub, `${where}.${key}[${i}]`));
    }
  }
  return problems;
}

describe('GET /openapi.json', () => {
  it('is an OpenAPI 3.0.3 JSON document about pgwarden', async () => {
    const res = await app.inject({ method: 'GET', url: '/openapi.json' });
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(res.body)).toEqual(doc);
    expect(doc['openapi']).toBe('3.0.3');
    const info = doc['info'] as Json;
    expect(info['title']).toBe('pgwarden');
    expect(info['version']).toBe(PGWARDEN_VERSION);
    expect(info['description']).toMatch(/Patroni 3\.0/);
  });

  it('needs no authentication, although the node has restapi.authentication', async () => {
    expect(config.restapi.authentication).toBeDefined();
    const res = await app.inject({ method: 'GET', url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
  });

  it('is structurally valid OpenAPI 3.0', () => {
    const problems: string[] = [];
    const tags = new Set(((doc['tags'] ?? []) as Json[]).map((t) => t['name']));
    const schemes = ((doc['components'] as Json)['securitySchemes'] ?? {}) as Json;
    for (const [path, item] of Object.entries(paths)) {
      if (!path.startsWith('/')) problems.push(`${path}: does not start with /`);
      for (const method of Object.keys(item)) {
        if (!METHODS.includes(method)) problems.push(`${path}: ${method} is not an operation`);
      }
    }
    for (const { path, method, op } of operations()) {
      const at = `${method.toUpperCase()} ${path}`;
      const params = (op['parameters'] ?? []) as Json[];
      const seen = new Set<string>();
      for (const p of params) {
        const key = `${p['in']} ${p['name']}`;
        if (seen.has(key)) problems.push(`${at}: duplicate parameter ${key}`);
        seen.add(key);
        if (!['query', 'path', 'header', 'cookie'].includes(p['in'] as string))
          problems.push(`${at}: in ${p['in']}`);
        if (p['in'] === 'path' && p['required'] !== true) problems.push(`${at}: path parameter not required`);
        if (!('schema' in p) && !('content' in p)) problems.push(`${at}: parameter ${key} without schema`);
        if ('schema' in p) problems.push(...schemaProblems(p['schema'], `${at} ${key}`));
      }
      for (const [, name] of path.matchAll(/\{([^}]+)\}/g)) {
        if (!params.some((p) => p['in'] === 'path' && p['name'] === name)) {
          problems.push(`${at}: path parameter ${name} not declared`);
        }
      }
      const responses = (op['responses'] ?? {}) as Record<string, Json>;
      if (Object.keys(responses).length === 0) problems.push(`${at}: no responses`);
      for (const [code, r] of Object.entries(responses)) {
        if (!/^([1-5]\d\d|[1-5]XX|default)$/.test(code)) problems.push(`${at}: response code ${code}`);
        if (typeof r['description'] !== 'string') problems.push(`${at} ${code}: no description`);
        for (const [type, media] of Object.entries((r['content'] ?? {}) as Record<string, Json>)) {
          problems.push(...schemaProblems(media['schema'], `${at} ${code} ${type}`));
        }
      }
      const body = op['requestBody'] as Json | undefined;
      if (body) {
        const content = (body['content'] ?? {}) as Record<string, Json>;
        if (Object.keys(content).length === 0) problems.push(`${at}: requestBody without content`);
        for (const [type, media] of Object.entries(content)) {
          problems.push(...schemaProblems(media['schema'], `${at} body ${type}`));
        }
      }
      for (const tag of (op['tags'] ?? []) as string[]) {
        if (!tags.has(tag)) problems.push(`${at}: tag ${tag} not declared`);
      }
      for (const requirement of (op['security'] ?? []) as Json[]) {
        for (const name of Object.keys(requirement)) {
          if (!(name in schemes)) problems.push(`${at}: security scheme ${name} not declared`);
        }
      }
      for (const key of Object.keys(op)) {
        if (key.startsWith('x-')) problems.push(`${at}: internal key ${key} left in the document`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('documents every route the app registers', () => {
    const routes = registeredRoutes(app);
    // The parser really read the tree (a broken one would make the next check vacuous).
    expect(routes).toEqual(
      expect.arrayContaining([
        { method: 'GET', url: '/' },
        { method: 'GET', url: '/openapi.json' },
        { method: 'GET', url: '/synchronous' },
        { method: 'GET', url: '/read-only-sync' },
        { method: 'POST', url: '/switchover' },
        { method: 'DELETE', url: '/restart' },
        { method: 'PATCH', url: '/config' },
        { method: 'OPTIONS', url: '/*' },
      ]),
    );
    const missing: string[] = [];
    const undocumented: string[] = [];
    for (const { method, url } of routes) {
      const op = paths[formatParamUrl(url)]?.[method.toLowerCase()];
      if (!op) {
        missing.push(`${method} ${url}`);
        continue;
      }
      const codes = Object.values((op['responses'] ?? {}) as Record<string, Json>);
      if (
        !op['summary'] ||
        !op['description'] ||
        !(op['tags'] as unknown[] | undefined)?.length ||
        codes.length === 0 ||
        codes.some((r) => r['description'] === 'Default Response')
      ) {
        undocumented.push(`${method} ${url}`);
      }
    }
    expect(missing).toEqual([]);
    expect(undocumented).toEqual([]);
  });

  it('documents the health-check paths with GET, HEAD and OPTIONS, and the generic check', () => {
    const healthPaths = [
      '/',
      '/primary',
      '/master',
      '/read-write',
      '/leader',
      '/standby-leader',
      '/standby_leader',
      '/replica',
      '/read-only',
      '/read-only-sync',
      '/synchronous',
      '/sync',
      '/asynchronous',
      '/async',
      '/health',
      '/liveness',
      '/readiness',
    ];
    for (const p of healthPaths) {
      expect(Object.keys(paths[p] ?? {}).sort(), p).toEqual(['get', 'head', 'options']);
    }
    const replicaParams = (paths['/replica']!['get']!['parameters'] as Json[]).map((p) => p['name']);
    expect(replicaParams).toEqual(expect.arrayContaining(['lag', 'tags']));
    expect(paths['/replica']!['get']!['parameters']).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'tags', style: 'form', explode: true })]),
    );
    // The not-found handler: GET and HEAD on any other path, besides the OPTIONS route.
    expect(Object.keys(paths['/{*}'] ?? {}).sort()).toEqual(['get', 'head', 'options']);
  });

  it('documents Patroni texts for fixed answers', () => {
    const switchover = paths['/switchover']!['post']!['responses'] as Record<string, Json>;
    expect(switchover['412']!['description']).toContain(
      'switchover is not possible: no good candidates have been found',
    );
    expect(switchover['202']!['content']).toEqual({
      'text/html': { schema: { type: 'string', example: 'Switchover scheduled' } },
    });
    const reload = paths['/reload']!['post']!['responses'] as Record<string, Json>;
    expect(Object.keys(reload).sort()).toEqual(['202', '401', '403']);
    expect(reload['401']!['description']).toContain('no auth header received');
  });

  it('documents request bodies (optional ones as such) without fastify validating them', () => {
    const body = (path: string, method: string) => paths[path]![method]!['requestBody'] as Json | undefined;
    for (const [path, method] of [
      ['/config', 'patch'],
      ['/config', 'put'],
      ['/switchover', 'post'],
      ['/failover', 'post'],
    ] as const) {
      expect(body(path, method)?.['required'], `${method} ${path}`).toBe(true);
    }
    expect(body('/restart', 'post')?.['required']).toBe(false);
    expect(body('/reinitialize', 'post')?.['required']).toBe(false);
    const switchoverBody = (body('/switchover', 'post')!['content'] as Record<string, Json>)[
      'application/json'
    ]!;
    expect(Object.keys((switchoverBody['schema'] as Json)['properties'] as Json)).toEqual(
      expect.arrayContaining(['leader', 'candidate', 'scheduled_at']),
    );
  });
});

describe('security in the document matches what is enforced', () => {
  it('declares HTTP Basic', () => {
    const schemes = (doc['components'] as Json)['securitySchemes'] as Record<string, Json>;
    expect(schemes['basicAuth']).toMatchObject({ type: 'http', scheme: 'basic' });
  });

  it('marks exactly the mutating operations and the operator-only reads, and those answer 401 without credentials', async () => {
    for (const { path, method, op } of operations()) {
      const at = `${method.toUpperCase()} ${path}`;
      const url = path === '/{*}' ? '/some-other-path' : path;
      const res = await app.inject({
        method: method.toUpperCase() as 'GET',
        url,
        headers: { 'content-type': 'application/json' },
        payload: MUTATING_METHODS.has(method) ? '{}' : undefined,
      });
      if (MUTATING_METHODS.has(method) || OPERATOR_ONLY_READS.has(at)) {
        expect(op['security'], at).toEqual([{ basicAuth: [] }]);
        expect(res.statusCode, at).toBe(401);
        expect(res.body, at).toBe('no auth header received');
      } else {
        expect(op['security'], at).toBeUndefined();
        expect(res.statusCode, at).not.toBe(401);
      }
    }
  });
});

/** pgwarden's reads that hold what only an operator should see (Patroni has none: its GETs are open). */
const OPERATOR_ONLY_READS = new Set(['GET /journal']);

describe('route schemas are documentation only', () => {
  it('query parameters are not validated or coerced', async () => {
    const res = await app.inject({ method: 'GET', url: '/primary?lag=1&lag=not-a-size&tag_x=1&tag_x=2' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(statusDocument(report));
    const replica = await app.inject({ method: 'GET', url: '/replica?lag=16MB&tag_nofailover=false' });
    expect(replica.statusCode).toBe(503);
  });

  it("bodies reach the handlers as they are: their checks and texts, not fastify's", async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/switchover',
      headers: { authorization: AUTH },
      payload: JSON.stringify({ leader: 0, candidate: ['x'] }),
    });
    expect(res.statusCode).toBe(400);
    expect(res.body).toBe('Switchover could be performed only from a specific leader');
    const restart = await app.inject({
      method: 'POST',
      url: '/restart',
      headers: { authorization: AUTH, 'content-type': 'application/json' },
      payload: JSON.stringify({ role: 7 }),
    });
    expect(restart.statusCode).toBe(400);
    expect(restart.body).toBe('PostgreSQL role should be either primary or replica');
    const patch = await app.inject({
      method: 'PATCH',
      url: '/config',
      headers: { authorization: AUTH },
      payload: JSON.stringify({ ttl: '30s' }),
    });
    expect(patch.statusCode).toBe(400);
    expect(patch.body).toBe('Bad Request: ttl must be a non-negative integer, got "30s"');
  });

  it('JSON answers keep every property (no schema-driven serializer)', async () => {
    const res = await app.inject({ method: 'GET', url: '/config' });
    expect(res.json()).toEqual(view.config!.data);
    const health = await app.inject({ method: 'GET', url: '/health' });
    expect(health.json()).toEqual(statusDocument(report));
  });

  it('HEAD on a path without a HEAD route is still the generic health check', async () => {
    const res = await app.inject({ method: 'HEAD', url: '/patroni' });
    expect(res.statusCode).toBe(503);
    expect(res.body).toBe('');
    const primary = await app.inject({ method: 'HEAD', url: '/primary' });
    expect(primary.statusCode).toBe(200);
    expect(primary.body).toBe('');
  });
});
