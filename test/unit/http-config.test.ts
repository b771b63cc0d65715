import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import type { NodeReport } from '../../src/cluster/report.ts';
import { type ClusterView, emptyClusterView } from '../../src/cluster/view.ts';
import { buildApi } from '../../src/http/server.ts';
import { FakeOps } from '../helpers/fake-ops.ts';
import { makeNodeConfig } from '../helpers/pg-config.ts';

const NOW = 1_795_637_532_000;
// makeNodeConfig's restapi.authentication.
const AUTH = 'Basic ' + Buffer.from('admin:admin-pass').toString('base64');

const config = () => ({
  ttl: 30,
  loop_wait: 10,
  retry_timeout: 10,
  maximum_lag_on_failover: 1048576,
  postgresql: { use_pg_rewind: true, parameters: { max_connections: 100, wal_level: 'replica' } },
});

const viewWith = (cfg: ClusterView['config']): ClusterView => ({
  ...emptyClusterView,
  revision: '30',
  config: cfg,
});

const report: NodeReport = {
  name: 'pg1',
  scope: 'batman',
  connUrl: 'postgres://10.0.0.1:5432/postgres',
  apiUrl: 'http://10.0.0.1:8008/patroni',
  tags: {},
  state: 'running',
  role: 'master',
  pg: null,
  systemIdentifier: null,
  isLeader: true,
  view: null,
  dcsLastSeen: null,
  paused: false,
  synchronousMode: false,
};

let app: FastifyInstance | null = null;
afterEach(async () => {
  await app?.close();
  app = null;
});

async function api(ops: FakeOps): Promise<FastifyInstance> {
  app = await buildApi({
    report: () => report,
    settings: () => ({ ttl: 30, loop_wait: 10 }),
    nextRun: () => NOW + 10_000,
    now: () => NOW,
    config: () =>
      makeNodeConfig({ name: 'pg1', pgPort: 5432, apiPort: 8008, dataDir: '/tmp/pgwarden-unused' }),
    ops,
  });
  return app;
}

function opsWith(cfg: ClusterView['config'] = { index: '7', data: config() }): FakeOps {
  const ops = new FakeOps();
  ops.view = viewWith(cfg);
  return ops;
}

/** A request as patronictl sends it: JSON text, Content-Length, no Content-Type. */
function send(
  method: 'PATCH' | 'PUT',
  body: string | undefined,
  headers: Record<string, string> = {},
): InjectOptions {
  return {
    method,
    url: '/config',
    // light-my-request leaves Content-Length out for an empty payload: state it, as a client would.
    headers: { authorization: AUTH, ...(body === '' ? { 'content-length': '0' } : {}), ...headers },
    ...(body === undefined ? {} : { payload: body }),
  };
}

describe('PATCH /config', () => {
  it('merges, writes with CAS on the config index, wakes the loop and returns the whole config', async () => {
    const ops = opsWith();
    const a = await api(ops);
    const res = await a.inject(
      send(
        'PATCH',
        JSON.stringify({ ttl: 20, postgresql: { parameters: { max_connections: 200, wal_level: null } } }),
      ),
    );
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const expected = {
      ...config(),
      ttl: 20,
      postgresql: { use_pg_rewind: true, parameters: { max_connections: 200 } },
    };
    expect(res.json()).toEqual(expected);
    expect(ops.writes).toEqual([{ key: 'config', value: expected, index: '7' }]);
    expect(ops.wakes).toBe(1);
    // The cluster view it read from is not mutated.
    expect(ops.view.config?.data).toEqual(config());
  });

  it('accepts application/json too (and any other content type)', async () => {
    const ops = opsWith();
    const a = await api(ops);
    const r1 = await a.inject(send('PATCH', '{"loop_wait": 5}', { 'content-type': 'application/json' }));
    expect(r1.statusCode).toBe(200);
    expect(r1.json().loop_wait).toBe(5);
    const r2 = await a.inject(
      send('PATCH', '{"retry_timeout": 5}', { 'content-type': 'application/x-www-form-urlencoded' }),
    );
    expect(r2.statusCode).toBe(200);
    expect(ops.writes).toHaveLength(2);
  });

  it('accepts a body without Content-Type (over a real socket, as patronictl sends it)', async () => {
    const ops = opsWith();
    const a = await api(ops);
    await a.listen({ host: '127.0.0.1', port: 0 });
    const { port } = a.server.address() as AddressInfo;
    const body = '{"synchronous_mode": true}';
    const res = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          method: 'PATCH',
          path: '/config',
          headers: { authorization: AUTH, 'content-length': Buffer.byteLength(body) },
        },
        (r) => {
          let text = '';
          r.on('data', (c) => {
            text += c;
          });
          r.on('end', () => resolve({ status: r.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text).synchronous_mode).toBe(true);
    expect(ops.writes).toHaveLength(1);
  });

  it('nothing changed: 200 with the config, no write, still wakes', async () => {
    const ops = opsWith();
    const a = await api(ops);
    const res = await a.inject(
      send('PATCH', '{"ttl": "30", "nonexistent": null, "postgresql": {"use_pg_rewind": true}}'),
    );
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(config());
    expect(ops.writes).toEqual([]);
    expect(ops.wakes).toBe(1);
  });

  it('compare-and-set lost: 409 Conflict, no wake', async () => {
    const ops = opsWith();
    ops.casFails = true;
    const a = await api(ops);
    const res = await a.inject(send('PATCH', '{"ttl": 20}'));
    expect(res.statusCode).toBe(409);
    expect(res.body).toContain('Conflict');
    expect(ops.wakes).toBe(0);
  });

  it('no config in the DCS, or a falsy index: 503', async () => {
    for (const cfg of [null, { index: '', data: config() }, { index: '0', data: config() }]) {
      const ops = opsWith(cfg);
      const a = await api(ops);
      const res = await a.inject(send('PATCH', '{"ttl": 20}'));
      expect(res.statusCode).toBe(503);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(ops.writes).toEqual([]);
      await a.close();
      app = null;
    }
  });

  it('the DCS read fails: 503', async () => {
    const ops = opsWith();
    ops.getCluster = async () => {
      throw new Error('etcd down');
    };
    const a = await api(ops);
    const res = await a.inject(send('PATCH', '{"ttl": 20}'));
    expect(res.statusCode).toBe(503);
  });

  it('missing Content-Length: 411', async () => {
    const ops = opsWith();
    const a = await api(ops);
    const res = await a.inject(send('PATCH', undefined));
    expect(res.statusCode).toBe(411);
    expect(ops.writes).toEqual([]);
  });

  it.each([
    ['empty', ''],
    ['not JSON', 'ttl=20'],
    ['a JSON array', '[1, 2]'],
    ['a JSON string', '"ttl"'],
    ['null', 'null'],
    ['an empty object', '{}'],
    ['truncated JSON', '{"ttl": 20'],
  ])('%s body: 400 with a text message', async (_what, body) => {
    const ops = opsWith();
    const a = await api(ops);
    for (const headers of [{}, { 'content-type': 'application/json' }] as Record<string, string>[]) {
      const res = await a.inject(send('PATCH', body, headers));
      expect(res.statusCode).toBe(400);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.body).toBe('Bad Request: body must be a non-empty JSON object');
    }
    expect(ops.writes).toEqual([]);
  });

  it('a body over 1 MiB: 413 with a clear message', async () => {
    const ops = opsWith();
    const a = await api(ops);
    const big = JSON.stringify({ pad: 'x'.repeat(1024 * 1024) });
    const res = await a.inject(send('PATCH', big));
    expect(res.statusCode).toBe(413);
    expect(res.body).toMatch(/^Payload Too Large: the body may not exceed 1048576 bytes/);
    expect(ops.writes).toEqual([]);
  });

  it.each([
    ['ttl', '"30s"'],
    ['loop_wait', '-1'],
    ['retry_timeout', '2.5'],
    ['maximum_lag_on_failover', 'true'],
    ['ttl', '{"a": 1}'],
    ['loop_wait', '"-3"'],
  ])('%s = %s is refused with 400 naming the key, nothing written', async (key, value) => {
    const ops = opsWith();
    const a = await api(ops);
    const res = await a.inject(send('PATCH', `{"loop_wait": 5, "${key}": ${value}}`));
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain(key);
    expect(res.body).toContain('non-negative integer');
    expect(ops.writes).toEqual([]);
    expect(ops.wakes).toBe(0);
  });

  it('integral values, "15", 30.0 and null are fine for the integer settings', async () => {
    const ops = opsWith();
    const a = await api(ops);
    const res = await a.inject(
      send('PATCH', '{"ttl": 30.0, "loop_wait": 0, "retry_timeout": "15", "maximum_lag_on_failover": null}'),
    );
    expect(res.statusCode).toBe(200);
    // 30.0 is a float in Python: str() differs from the stored int 30, so it is a change (written as 30).
    expect(ops.writes).toHaveLength(1);
    expect(ops.writes[0]!.value).toMatchObject({ ttl: 30, loop_wait: 0, retry_timeout: '15' });
    expect(ops.writes[0]!.value).not.toHaveProperty('maximum_lag_on_failover');
  });

  it('without credentials the route is refused (it is marked mutating)', async () => {
    const ops = opsWith();
    const a = await api(ops);
    const res = await a.inject({ method: 'PATCH', url: '/config', payload: '{"ttl": 20}' });
    expect(res.statusCode).toBe(401);
    expect(ops.writes).toEqual([]);
  });
});

describe('PUT /config', () => {
  it('replaces the whole config with a plain put and echoes the body', async () => {
    const ops = opsWith();
    const a = await api(ops);
    const body = { ttl: 20, loop_wait: 5, postgresql: { use_slots: true } };
    const res = await a.inject(send('PUT', JSON.stringify(body)));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(body);
    expect(ops.writes).toEqual([{ key: 'config', value: body, index: undefined }]);
  });

  it('no write when deep-equal by str() (key order and "30" vs 30 do not matter)', async () => {
    const ops = opsWith();
    const a = await api(ops);
    const body = { ...config(), ttl: '30' };
    const reordered = Object.fromEntries(Object.entries(body).reverse());
    const res = await a.inject(send('PUT', JSON.stringify(reordered)));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(reordered);
    expect(ops.writes).toEqual([]);
  });

  it('write failure: 502', async () => {
    for (const fail of ['false', 'throw'] as const) {
      const ops = opsWith();
      ops.setConfig = async () => {
        if (fail === 'throw') throw new Error('etcd down');
        return false;
      };
      const a = await api(ops);
      const res = await a.inject(send('PUT', '{"ttl": 20}'));
      expect(res.statusCode).toBe(502);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      await a.close();
      app = null;
    }
  });

  it('no config in the DCS yet: writes it (no 3.0.2 crash)', async () => {
    const ops = opsWith(null);
    const a = await api(ops);
    const res = await a.inject(send('PUT', '{"ttl": 20}'));
    expect(res.statusCode).toBe(200);
    expect(ops.writes).toEqual([{ key: 'config', value: { ttl: 20 }, index: undefined }]);
  });

  it('body rules: 411, 400, invalid integer setting', async () => {
    const ops = opsWith();
    const a = await api(ops);
    expect((await a.inject(send('PUT', undefined))).statusCode).toBe(411);
    expect((await a.inject(send('PUT', '[]'))).statusCode).toBe(400);
    expect((await a.inject(send('PUT', '{}'))).statusCode).toBe(400);
    const bad = await a.inject(send('PUT', '{"ttl": -5}'));
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('ttl');
    expect(ops.writes).toEqual([]);
  });
});

describe('other routes keep their body parsing', () => {
  it('GET /config still answers from the report', async () => {
    const ops = opsWith();
    const a = await api(ops);
    const res = await a.inject({ method: 'GET', url: '/config' });
    expect(res.statusCode).toBe(502);
  });
});
