import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { NodeReport } from '../../src/cluster/report.ts';
import { type ClusterView, emptyClusterView, type Member } from '../../src/cluster/view.ts';
import type { NodeConfig } from '../../src/config/types.ts';
import type { Operations } from '../../src/http/operations.ts';
import {
  applyServerCertificates,
  isMutating,
  normaliseIp,
  securityPlugin,
  serverOptions,
} from '../../src/http/security.ts';
import type { ApiContext } from '../../src/http/server.ts';
import { makeNodeConfig } from '../helpers/pg-config.ts';
import { makeTestCerts, type TestCerts } from '../helpers/tls-certs.ts';

type RestApi = NodeConfig['restapi'];

function config(restapi: Partial<RestApi> = {}): NodeConfig {
  const base = makeNodeConfig({ name: 'n1', pgPort: 5432, apiPort: 8008, dataDir: '/tmp/n1/data' });
  // makeNodeConfig sets authentication; a test without it passes `authentication: undefined`.
  return { ...base, restapi: { ...base.restapi, ...restapi } };
}

function member(name: string, apiUrl: string): Member {
  return {
    name,
    index: '1',
    session: '1',
    data: {
      conn_url: 'postgres://x:5432/postgres',
      api_url: apiUrl,
      state: 'running',
      role: 'replica',
      version: '3.0.2',
    },
  };
}

function report(view: ClusterView | null): NodeReport {
  return {
    name: 'n1',
    scope: 'batman',
    connUrl: 'postgres://127.0.0.1:5432/postgres',
    apiUrl: 'http://127.0.0.1:8008/patroni',
    tags: {},
    state: 'running',
    role: 'master',
    pg: null,
    systemIdentifier: null,
    isLeader: true,
    view,
    dcsLastSeen: null,
    paused: false,
    synchronousMode: false,
  };
}

const defaultView: ClusterView = {
  ...emptyClusterView,
  revision: '7',
  members: [member('n1', 'http://10.0.0.1:8008/patroni'), member('n2', 'https://[fd00::2]:8008/patroni')],
};

interface Harness {
  app: FastifyInstance;
  state: { config: NodeConfig; view: ClusterView | null };
  logs: string[];
}

/** Security plugin, then a sibling plugin with POST /x (mutating), GET /y and DELETE /z (not). */
async function harness(
  restapi: Partial<RestApi> = {},
  view: ClusterView | null = defaultView,
  https?: ReturnType<typeof serverOptions>['https'],
): Promise<Harness> {
  const state = { config: config(restapi), view };
  const logs: string[] = [];
  const ctx: ApiContext = {
    report: () => report(state.view),
    settings: () => ({ ttl: 30, loop_wait: 10 }),
    nextRun: () => 0,
    now: () => 0,
    config: () => state.config,
    ops: {} as Operations,
  };
  // One type for both: the https instance differs from the http one only in its raw server.
  const app = (https
    ? Fastify({ logger: false, https })
    : Fastify({ logger: false })) as unknown as FastifyInstance;
  await app.register(securityPlugin, { ctx, log: (m) => logs.push(m) });
  await app.register(async (sub) => {
    sub.post('/x', { config: { mutating: true } }, async (_req, reply) =>
      reply.type('text/plain').send('did x'),
    );
    sub.get('/y', async (_req, reply) => reply.type('text/plain').send('read y'));
    sub.delete('/z', async (_req, reply) => reply.type('text/plain').send('did z'));
  });
  await app.ready();
  return { app, state, logs };
}

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
const GOOD = basic('admin', 'admin-pass');

let current: FastifyInstance | null = null;
afterEach(async () => {
  await current?.close();
  current = null;
});

async function build(restapi: Partial<RestApi> = {}, view: ClusterView | null = defaultView) {
  const h = await harness(restapi, view);
  current = h.app;
  return h;
}

function post(app: FastifyInstance, remoteAddress: string, authorization?: string) {
  return app.inject({
    method: 'POST',
    url: '/x',
    remoteAddress,
    headers: authorization === undefined ? {} : { authorization },
  });
}

describe('helpers', () => {
  it('isMutating only for config.mutating === true', () => {
    expect(isMutating({ mutating: true })).toBe(true);
    expect(isMutating({ mutating: 'yes' })).toBe(false);
    expect(isMutating({})).toBe(false);
    expect(isMutating(undefined)).toBe(false);
  });
  it('normaliseIp unmaps IPv4-mapped IPv6 and drops zones', () => {
    expect(normaliseIp('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(normaliseIp('::FFFF:127.0.0.1')).toBe('127.0.0.1');
    expect(normaliseIp('fe80::1%eth0')).toBe('fe80::1');
    expect(normaliseIp('fd00::1')).toBe('fd00::1');
  });
  it('serverOptions: no certfile → {}', () => {
    expect(serverOptions(config())).toEqual({});
  });
  it('serverOptions: unreadable files throw naming the setting and path', () => {
    expect(() => serverOptions(config({ certfile: '/nonexistent/server.crt' }))).toThrow(
      /restapi\.certfile.*\/nonexistent\/server\.crt/,
    );
  });
});

describe('Basic auth', () => {
  it('missing header → 401 no auth header received, with WWW-Authenticate', async () => {
    const { app } = await build();
    const res = await post(app, '127.0.0.1');
    expect(res.statusCode).toBe(401);
    expect(res.body).toBe('no auth header received');
    expect(res.headers['www-authenticate']).toBe('Basic realm="Patroni"');
    expect(res.headers['content-type']).toMatch(/^text\/html/);
  });

  it('wrong credentials, wrong scheme, lower-case basic, extra text → 401 not authenticated', async () => {
    const { app } = await build();
    const cred = Buffer.from('admin:admin-pass').toString('base64');
    for (const h of [
      basic('admin', 'wrong'),
      basic('admin', 'admin-pass-longer'),
      basic('root', 'admin-pass'),
      `Bearer ${cred}`,
      `basic ${cred}`,
      `Basic  ${cred}`,
      `Basic ${cred} `,
      '',
    ]) {
      const res = await post(app, '127.0.0.1', h);
      expect(res.statusCode, h).toBe(401);
      expect(res.body).toBe('not authenticated');
      expect(res.headers['www-authenticate']).toBe('Basic realm="Patroni"');
    }
  });

  it('right credentials pass', async () => {
    const { app } = await build();
    const res = await post(app, '127.0.0.1', GOOD);
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('did x');
  });

  it('no authentication configured → no check', async () => {
    const { app } = await build({ authentication: undefined });
    expect((await post(app, '127.0.0.1')).statusCode).toBe(200);
  });

  it('GET and non-mutating routes are never checked', async () => {
    const { app } = await build({ allowlist: ['10.9.9.9'] });
    const get = await app.inject({ method: 'GET', url: '/y', remoteAddress: '192.168.1.1' });
    expect(get.statusCode).toBe(200);
    expect(get.body).toBe('read y');
    const del = await app.inject({ method: 'DELETE', url: '/z', remoteAddress: '192.168.1.1' });
    expect(del.statusCode).toBe(200);
  });

  it('reads the configuration on every request (reload takes effect)', async () => {
    const { app, state } = await build();
    expect((await post(app, '127.0.0.1', GOOD)).statusCode).toBe(200);
    state.config = config({ authentication: { username: 'admin', password: 'rotated' } });
    expect((await post(app, '127.0.0.1', GOOD)).statusCode).toBe(401);
    expect((await post(app, '127.0.0.1', basic('admin', 'rotated'))).statusCode).toBe(200);
    state.config = config({ allowlist: ['10.0.0.0/8'] });
    const res = await post(app, '127.0.0.1', GOOD);
    expect(res.statusCode).toBe(403);
    expect((await post(app, '10.2.3.4', GOOD)).statusCode).toBe(200);
  });
});

describe('allowlist', () => {
  const denied = (res: { statusCode: number; body: string; headers: Record<string, unknown> }) => {
    expect(res.statusCode).toBe(403);
    expect(res.body).toBe('Access is denied');
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.headers['www-authenticate']).toBeUndefined();
  };

  it('single IPs (v4 and v6)', async () => {
    const { app } = await build({ allowlist: ['10.0.0.5', 'fd00::5'] });
    expect((await post(app, '10.0.0.5', GOOD)).statusCode).toBe(200);
    expect((await post(app, '::ffff:10.0.0.5', GOOD)).statusCode).toBe(200);
    expect((await post(app, 'fd00::5', GOOD)).statusCode).toBe(200);
    denied(await post(app, '10.0.0.6', GOOD));
    denied(await post(app, 'fd00::6', GOOD));
    denied(await post(app, '127.0.0.1', GOOD));
  });

  it('CIDRs (v4, v6, host bits set)', async () => {
    const { app } = await build({ allowlist: ['192.168.0.1/16', 'fd00:1::/32'] });
    expect((await post(app, '192.168.200.7', GOOD)).statusCode).toBe(200);
    expect((await post(app, '::ffff:192.168.0.9', GOOD)).statusCode).toBe(200);
    expect((await post(app, 'fd00:1:ffff::1', GOOD)).statusCode).toBe(200);
    denied(await post(app, '192.169.0.1', GOOD));
    denied(await post(app, 'fd00:2::1', GOOD));
  });

  it('hostnames are resolved (localhost)', async () => {
    const { app } = await build({ allowlist: ['localhost'] });
    expect((await post(app, '127.0.0.1', GOOD)).statusCode).toBe(200);
    denied(await post(app, '10.0.0.1', GOOD));
  });

  it('invalid and unresolvable entries are logged and match nothing', async () => {
    const { app, logs } = await build({ allowlist: ['10.0.0.0/99', 'not-a-host.invalid', '10.0.0.7'] });
    expect((await post(app, '10.0.0.7', GOOD)).statusCode).toBe(200);
    denied(await post(app, '10.0.0.8', GOOD));
    expect(logs.some((l) => l.includes('10.0.0.0/99'))).toBe(true);
    expect(logs.some((l) => l.includes('not-a-host.invalid'))).toBe(true);
  });

  it('allowlist_include_members: hosts of every member api_url', async () => {
    const { app, state } = await build({ allowlist_include_members: true });
    expect((await post(app, '10.0.0.1', GOOD)).statusCode).toBe(200);
    expect((await post(app, 'fd00::2', GOOD)).statusCode).toBe(200);
    denied(await post(app, '10.0.0.3', GOOD));
    // A new view revision with another member: its host is allowed from then on.
    state.view = {
      ...defaultView,
      revision: '8',
      members: [...defaultView.members, member('n3', 'http://localhost:8008/patroni')],
    };
    expect((await post(app, '127.0.0.1', GOOD)).statusCode).toBe(200);
    state.view = null;
    denied(await post(app, '10.0.0.1', GOOD));
  });

  it('allowlist and members combine', async () => {
    const { app } = await build({ allowlist: ['172.16.0.0/12'], allowlist_include_members: true });
    expect((await post(app, '172.20.1.1', GOOD)).statusCode).toBe(200);
    expect((await post(app, '10.0.0.1', GOOD)).statusCode).toBe(200);
    denied(await post(app, '10.0.0.3', GOOD));
  });

  it('is checked before authentication', async () => {
    const { app } = await build({ allowlist: ['10.0.0.5'] });
    denied(await post(app, '10.0.0.6')); // no auth header: still 403, not 401
    denied(await post(app, '10.0.0.6', basic('admin', 'wrong')));
    const res = await post(app, '10.0.0.5');
    expect(res.statusCode).toBe(401);
    expect(res.body).toBe('no auth header received');
  });

  it('empty allowlist without include_members → no check', async () => {
    const { app } = await build({ allowlist: [] });
    expect((await post(app, '8.8.8.8', GOOD)).statusCode).toBe(200);
  });
});

// ---------------------------------------------------------------------------------------------
// TLS: throwaway CA, server and client certificates made with openssl
// ---------------------------------------------------------------------------------------------

describe('TLS (real https server)', () => {
  let certs: TestCerts;
  const f = (name: string) => certs.file(name);
  beforeAll(() => {
    certs = makeTestCerts();
  });
  afterAll(() => certs?.remove());

  const servers: FastifyInstance[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  async function tlsServer(restapi: Partial<RestApi>): Promise<number> {
    const opts = serverOptions(config(restapi));
    expect(opts.https).toBeDefined();
    const { app } = await harness(restapi, defaultView, opts.https);
    servers.push(app);
    await app.listen({ host: '127.0.0.1', port: 0 });
    return (app.server.address() as AddressInfo).port;
  }

  interface Answer {
    status: number;
    body: string;
    headers: Record<string, unknown>;
  }

  function request(
    port: number,
    method: string,
    urlPath: string,
    opts: { client?: 'client' | 'rogue'; authorization?: string } = {},
  ): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port,
          method,
          path: urlPath,
          ca: readFileSync(f('ca.crt')),
          servername: 'localhost',
          agent: false,
          headers: opts.authorization ? { authorization: opts.authorization } : {},
          ...(opts.client
            ? { cert: readFileSync(f(`${opts.client}.crt`)), key: readFileSync(f(`${opts.client}.key`)) }
            : {}),
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c) => {
            body += c;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  const files = () => ({ certfile: f('server.crt'), keyfile: f('server.key'), cafile: f('ca.crt') });

  it('serverOptions reads the files and sets requestCert/rejectUnauthorized', () => {
    const none = serverOptions(config({ ...files(), verify_client: 'none' })).https!;
    expect(none.cert.equals(readFileSync(f('server.crt')))).toBe(true);
    expect(none.key.equals(readFileSync(f('server.key')))).toBe(true);
    expect(none.ca?.equals(readFileSync(f('ca.crt')))).toBe(true);
    expect([none.requestCert, none.rejectUnauthorized]).toEqual([false, false]);
    const opt = serverOptions(config({ ...files(), verify_client: 'optional' })).https!;
    expect([opt.requestCert, opt.rejectUnauthorized]).toEqual([true, false]);
    const req = serverOptions(config({ ...files(), verify_client: 'required' })).https!;
    expect([req.requestCert, req.rejectUnauthorized]).toEqual([true, true]);
    const combined = serverOptions(config({ certfile: f('combined.pem') })).https!;
    expect(combined.key.equals(combined.cert)).toBe(true);
    expect(combined.ca).toBeUndefined();
    expect(() => serverOptions(config({ ...files(), keyfile: f('missing.key') }))).toThrow(
      `restapi.keyfile: cannot read ${f('missing.key')}`,
    );
    expect(() => serverOptions(config({ ...files(), cafile: f('missing-ca.crt') }))).toThrow(
      /restapi\.cafile/,
    );
  });

  it('verify_client none: no client certificate needed; auth still applies', async () => {
    const port = await tlsServer({ ...files(), verify_client: 'none' });
    expect((await request(port, 'GET', '/y')).status).toBe(200);
    const noAuth = await request(port, 'POST', '/x');
    expect(noAuth.status).toBe(401);
    expect(noAuth.body).toBe('no auth header received');
    const ok = await request(port, 'POST', '/x', { authorization: GOOD });
    expect([ok.status, ok.body]).toEqual([200, 'did x']);
  });

  it('reload: new certificate files take effect for new connections', async () => {
    const port = await tlsServer(files());
    const app = servers[servers.length - 1]!;
    const serial = () =>
      new Promise<string>((resolve, reject) => {
        const sock = tls.connect(
          { host: '127.0.0.1', port, ca: readFileSync(f('ca.crt')), servername: 'localhost' },
          () => {
            const sn = sock.getPeerCertificate().serialNumber;
            sock.end();
            resolve(sn);
          },
        );
        sock.on('error', reject);
      });
    const before = await serial();
    certs.issue(
      'server2',
      'ca',
      'basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n',
    );
    const reloaded = config({ certfile: f('server2.crt'), keyfile: f('server2.key'), cafile: f('ca.crt') });
    expect(applyServerCertificates(app.server, reloaded)).toBe(true);
    const after = await serial();
    expect(after).not.toBe(before);
    // Still the same server, still answering, now with the new certificate.
    expect((await request(port, 'POST', '/x', { authorization: GOOD })).status).toBe(200);
    expect(applyServerCertificates(app.server, config({}))).toBe(false);
  });

  it('certfile holding the key too (no keyfile) serves https', async () => {
    const port = await tlsServer({ certfile: f('combined.pem') });
    expect((await request(port, 'POST', '/x', { authorization: GOOD })).status).toBe(200);
  });

  it('verify_client optional: POST without a (valid) certificate → 403, with one → auth', async () => {
    const port = await tlsServer({ ...files(), verify_client: 'optional' });
    expect((await request(port, 'GET', '/y')).status).toBe(200);
    const noCert = await request(port, 'POST', '/x', { authorization: GOOD });
    expect(noCert.status).toBe(403);
    expect(noCert.body).toBe('client certificate required');
    const rogue = await request(port, 'POST', '/x', { client: 'rogue', authorization: GOOD });
    expect(rogue.status).toBe(403);
    expect(rogue.body).toBe('client certificate required');
    const certNoAuth = await request(port, 'POST', '/x', { client: 'client' });
    expect(certNoAuth.status).toBe(401);
    expect(certNoAuth.body).toBe('no auth header received');
    expect(certNoAuth.headers['www-authenticate']).toBe('Basic realm="Patroni"');
    const ok = await request(port, 'POST', '/x', { client: 'client', authorization: GOOD });
    expect([ok.status, ok.body]).toEqual([200, 'did x']);
  });

  it('verify_client optional: allowlist is checked before the certificate', async () => {
    const port = await tlsServer({ ...files(), verify_client: 'optional', allowlist: ['10.0.0.0/8'] });
    const res = await request(port, 'POST', '/x', { authorization: GOOD });
    expect([res.status, res.body]).toEqual([403, 'Access is denied']);
  });

  it('verify_client required: the handshake fails without a certificate', async () => {
    const port = await tlsServer({ ...files(), verify_client: 'required' });
    await expect(request(port, 'GET', '/y')).rejects.toThrow();
    await expect(request(port, 'POST', '/x', { client: 'rogue', authorization: GOOD })).rejects.toThrow();
    const ok = await request(port, 'POST', '/x', { client: 'client', authorization: GOOD });
    expect([ok.status, ok.body]).toEqual([200, 'did x']);
    expect((await request(port, 'GET', '/y', { client: 'client' })).status).toBe(200);
  });
});
