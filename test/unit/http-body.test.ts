/**
 * Request bodies of the operator endpoints, as Patroni's `_read_json_content` (reference §2.2):
 * a required body (POST /switchover, /failover) needs a Content-Length (411) and must be a
 * non-empty JSON object (400); an optional body (POST /restart, /reinitialize) without
 * Content-Length or with `Content-Length: 0` is `{}`. Clients send JSON without a Content-Type.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import type { NodeReport } from '../../src/cluster/report.ts';
import { type ClusterView, emptyClusterView, type Member } from '../../src/cluster/view.ts';
import { buildApi } from '../../src/http/server.ts';
import { FakeOps } from '../helpers/fake-ops.ts';
import { makeNodeConfig } from '../helpers/pg-config.ts';

function member(name: string, role: 'master' | 'replica'): Member {
  return {
    name,
    index: '1',
    session: '1',
    data: {
      conn_url: `postgres://${name}:5432/postgres`,
      api_url: `http://${name}:8008/patroni`,
      state: 'running',
      role,
      version: '3.0.2',
    },
  };
}

const view: ClusterView = {
  ...emptyClusterView,
  revision: '10',
  initialize: '7123456789012345678',
  config: { index: '2', data: { ttl: 30, loop_wait: 10 } },
  leader: { name: 'a', index: '3', session: '1' },
  members: [member('a', 'master'), member('b', 'replica')],
};

const report: NodeReport = {
  name: 'a',
  scope: 'batman',
  connUrl: 'postgres://a:5432/postgres',
  apiUrl: 'http://a:8008/patroni',
  tags: {},
  state: 'running',
  role: 'master',
  pg: null,
  systemIdentifier: '7123456789012345678',
  isLeader: true,
  view,
  dcsLastSeen: null,
  paused: false,
  synchronousMode: false,
};

let app: FastifyInstance | null = null;
afterEach(async () => {
  await app?.close();
  app = null;
});

async function build(): Promise<{ app: FastifyInstance; ops: FakeOps }> {
  const ops = new FakeOps();
  ops.view = view;
  const base = makeNodeConfig({ name: 'a', pgPort: 5432, apiPort: 8008, dataDir: '/tmp/pgwarden-unused' });
  app = await buildApi({
    report: () => report,
    settings: () => ({ ttl: 30, loop_wait: 10 }),
    nextRun: () => 0,
    now: () => Date.parse('2026-11-25T20:00:00Z'),
    config: () => ({ ...base, restapi: { ...base.restapi, authentication: undefined } }),
    ops,
  });
  return { app, ops };
}

function expectText(res: LightMyRequestResponse, status: number, body: string) {
  expect({ status: res.statusCode, body: res.body }).toEqual({ status, body });
  expect(res.headers['content-type']).toBe('text/html');
}

const post = (a: FastifyInstance, url: string, extra: Partial<InjectOptions> = {}) =>
  a.inject({ method: 'POST', url, ...extra });

describe('required bodies: POST /switchover and POST /failover', () => {
  for (const url of ['/switchover', '/failover']) {
    describe(url, () => {
      it('no body, no Content-Length → 411', async () => {
        const { app, ops } = await build();
        const res = await post(app, url);
        expect(res.headers['content-length']).toBe('15');
        expectText(res, 411, 'Length Required');
        expect(ops.writes).toEqual([]);
      });

      it('Content-Length: 0 → 400 (a required body must not be empty)', async () => {
        const { app } = await build();
        expectText(
          await post(app, url, { payload: '', headers: { 'content-length': '0' } }),
          400,
          'Bad Request: empty body',
        );
      });

      it('whitespace only → 400 empty body', async () => {
        const { app } = await build();
        expectText(await post(app, url, { payload: '  \n ' }), 400, 'Bad Request: empty body');
      });

      it('invalid JSON → 400 naming the parse error', async () => {
        const { app, ops } = await build();
        const res = await post(app, url, { payload: '{"leader": "a",' });
        expect(res.statusCode).toBe(400);
        expect(res.headers['content-type']).toBe('text/html');
        expect(res.body.startsWith('Bad Request: body is not valid JSON (')).toBe(true);
        expect(res.body.endsWith(')')).toBe(true);
        expect(ops.writes).toEqual([]);
      });

      it.each([['[]'], ['[{"leader":"a","candidate":"b"}]'], ['5'], ['null'], ['"a"'], ['true']])(
        '%s → 400, not an object',
        async (payload) => {
          const { app, ops } = await build();
          expectText(await post(app, url, { payload }), 400, 'Bad Request: body must be a JSON object');
          expect(ops.writes).toEqual([]);
        },
      );

      it('{} → 400 (Patroni: an empty object is refused for a required body)', async () => {
        // Patroni answers send_error(400); pgwarden reaches the first check (also 400).
        const { app } = await build();
        const res = await post(app, url, { payload: '{}' });
        expect(res.statusCode).toBe(400);
        expect(res.headers['content-type']).toBe('text/html');
      });
    });
  }

  const good = '{"leader":"a","candidate":"b","scheduled_at":"2026-11-25T21:00:00+00:00"}';

  it('JSON without a Content-Type is accepted (patronictl sends none)', async () => {
    const { app, ops } = await build();
    const res = await post(app, '/switchover', { payload: good });
    expectText(res, 202, 'Switchover scheduled');
    expect(ops.writes).toHaveLength(1);
  });

  it.each([
    'application/json',
    'application/json; charset=utf-8',
    'text/plain',
    'application/x-www-form-urlencoded',
  ])('Content-Type %s is accepted and the body read as JSON', async (type) => {
    const { app, ops } = await build();
    const res = await post(app, '/switchover', { payload: good, headers: { 'content-type': type } });
    expectText(res, 202, 'Switchover scheduled');
    expect(ops.writes).toHaveLength(1);
  });

  it('an object payload (inject serialises it with application/json) is accepted', async () => {
    const { app, ops } = await build();
    const res = await post(app, '/failover', {
      payload: { leader: 'a', candidate: 'b', scheduled_at: '2026-11-25T21:00:00Z' },
    });
    expectText(res, 202, 'Failover scheduled');
    expect(ops.writes).toHaveLength(1);
  });

  // Patroni refuses any required body sent without Content-Length (e.g. chunked) with 411; inject
  // always sets Content-Length, so this goes over a real socket.
  it('a chunked body without Content-Length → 411 (accepted and parsed instead)', async () => {
    const { app } = await build();
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as AddressInfo;
    const result = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/switchover',
          headers: { 'transfer-encoding': 'chunked' },
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            body += c;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.write('{"leader":"a",');
      req.end('"candidate":"b","scheduled_at":"2026-11-25T21:00:00+00:00"}');
    });
    expect(result).toEqual({ status: 411, body: 'Length Required' });
  });
});

describe('optional bodies: POST /restart and POST /reinitialize', () => {
  it('/restart with no body → {}', async () => {
    const { app, ops } = await build();
    expectText(await post(app, '/restart'), 200, 'restarted successfully');
    expect(ops.restarts).toEqual([{}]);
  });

  it('/restart with Content-Length: 0 → {}', async () => {
    const { app, ops } = await build();
    const res = await post(app, '/restart', { payload: '', headers: { 'content-length': '0' } });
    expectText(res, 200, 'restarted successfully');
    expect(ops.restarts).toEqual([{}]);
  });

  it('/restart with {} → {}', async () => {
    const { app, ops } = await build();
    expectText(await post(app, '/restart', { payload: '{}' }), 200, 'restarted successfully');
    expect(ops.restarts).toEqual([{}]);
  });

  it('/reinitialize with no body → force false', async () => {
    const { app, ops } = await build();
    expectText(await post(app, '/reinitialize'), 200, 'reinitialize started');
    expect(ops.reinits).toEqual([false]);
  });

  it('/reinitialize with Content-Length: 0 → force false', async () => {
    const { app, ops } = await build();
    const res = await post(app, '/reinitialize', { payload: '', headers: { 'content-length': '0' } });
    expectText(res, 200, 'reinitialize started');
    expect(ops.reinits).toEqual([false]);
  });

  for (const url of ['/restart', '/reinitialize']) {
    it(`${url}: invalid JSON → 400, the action is not run`, async () => {
      const { app, ops } = await build();
      const res = await post(app, url, { payload: '{force' });
      expect(res.statusCode).toBe(400);
      expect(res.headers['content-type']).toBe('text/html');
      expect(res.body.startsWith('Bad Request: body is not valid JSON (')).toBe(true);
      expect(ops.restarts).toEqual([]);
      expect(ops.reinits).toEqual([]);
    });

    it.each(['[]', '1', 'null', '"x"', 'false'])(`${url}: %s → 400, not an object`, async (payload) => {
      const { app, ops } = await build();
      expectText(await post(app, url, { payload }), 400, 'Bad Request: body must be a JSON object');
      expect(ops.restarts).toEqual([]);
      expect(ops.reinits).toEqual([]);
    });

    it(`${url}: JSON with application/json is accepted`, async () => {
      const { app, ops } = await build();
      const res = await post(app, url, {
        payload: '{}',
        headers: { 'content-type': 'application/json' },
      });
      expect(res.statusCode).toBe(200);
      expect(ops.restarts.length + ops.reinits.length).toBe(1);
    });

    // Patroni: Content-Length > 0 is always json.loads'ed, and json.loads('  ') raises → 400.
    // pgwarden treats a whitespace-only optional body as {} and runs the action.
    it(`${url}: whitespace-only body with Content-Length > 0 → 400`, async () => {
      const { app, ops } = await build();
      const res = await post(app, url, { payload: '  ' });
      expect(res.statusCode).toBe(400);
      expect(ops.restarts.length + ops.reinits.length).toBe(0);
    });
  }
});
