/**
 * The REST server's WebSocket upgrades (src/viz/cluster-stream.ts) on a real socket: who may open
 * /journal/stream and /ui/stream, and what happens to every other upgrade request.
 */
import { connect } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { unpack } from 'msgpackr';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { Journal } from '../../src/actors/journal.ts';
import type { NodeReport } from '../../src/cluster/report.ts';
import { buildApi } from '../../src/http/server.ts';
import { attachUpgrades } from '../../src/http/upgrades.ts';
import { ClusterStream } from '../../src/viz/cluster-stream.ts';
import { MemberStream } from '../../src/viz/member-stream.ts';
import { StreamTokens } from '../../src/viz/tokens.ts';
import { FakeOps } from '../helpers/fake-ops.ts';
import { makeNodeConfig } from '../helpers/pg-config.ts';

const config = makeNodeConfig({ name: 'pg1', pgPort: 5432, apiPort: 8008, dataDir: '/tmp/pgwarden-unused' });
const { username, password } = config.restapi.authentication!;
const auth = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;

let app: FastifyInstance | null = null;
let stream: ClusterStream | null = null;
afterEach(async () => {
  stream?.close();
  await app?.close();
  app = null;
});

async function serve(): Promise<{ base: string; tokens: StreamTokens }> {
  const journal = new Journal();
  journal.header({ version: 'x', machines: 'y', node: 'pg1', settings: {} });
  const tokens = new StreamTokens();
  const member = new MemberStream({
    name: 'pg1',
    journal,
    report: () => ({ role: 'master', state: 'running', isLeader: true }),
    leaseLeftMs: () => null,
    setInterval: () => () => undefined,
  });
  stream = new ClusterStream({
    me: 'pg1',
    local: member,
    tokens,
    members: () => [],
    peerAuthorization: () => undefined,
    peerTls: () => null,
    enabled: () => true,
    log: () => undefined,
  });
  app = await buildApi({
    report: () =>
      ({ state: 'running', role: 'master', pg: null, tags: {}, view: null }) as unknown as NodeReport,
    settings: () => ({ ttl: 30, loop_wait: 10 }),
    nextRun: () => 0,
    now: () => Date.now(),
    config: () => config,
    ops: new FakeOps(),
  });
  attachUpgrades(app, stream.upgrades());
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  return { base: address.replace(/^http/, 'ws'), tokens };
}

/** Opens a WebSocket; resolves with the first frame, or rejects with the HTTP status refused. */
function firstFrame(url: string, headers: Record<string, string> = {}): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.on('message', (data: Buffer) => {
      resolve(unpack(data));
      ws.close();
    });
    ws.on('unexpected-response', (_req, res) => reject(new Error(String(res.statusCode))));
    ws.on('error', reject);
  });
}

describe('WebSocket upgrades', () => {
  it('/journal/stream: the checks of guarded routes; refused with an Origin (a browser page elsewhere)', async () => {
    const { base } = await serve();
    await expect(firstFrame(`${base}/journal/stream`)).rejects.toThrow('401');
    await expect(firstFrame(`${base}/journal/stream`, { authorization: 'Basic eDp5' })).rejects.toThrow(
      '401',
    );
    await expect(
      firstFrame(`${base}/journal/stream`, { authorization: auth, origin: 'http://evil.example' }),
    ).rejects.toThrow('403');
    expect(await firstFrame(`${base}/journal/stream`, { authorization: auth })).toMatchObject({
      type: 'snapshot',
      member: 'pg1',
    });
  });

  it('/ui/stream: a valid token and the page’s own origin', async () => {
    const { base, tokens } = await serve();
    const host = new URL(base).host;
    const own = { origin: `http://${host}` };
    await expect(firstFrame(`${base}/ui/stream`, own)).rejects.toThrow('401');
    await expect(firstFrame(`${base}/ui/stream?token=1.x`, own)).rejects.toThrow('401');
    const token = tokens.issue();
    await expect(
      firstFrame(`${base}/ui/stream?token=${token}`, { origin: 'http://evil.example' }),
    ).rejects.toThrow('403');
    expect(await firstFrame(`${base}/ui/stream?token=${token}`, own)).toMatchObject({ type: 'snapshot' });
  });

  it('any other request asking to upgrade is answered as plain HTTP (a health check with Upgrade: h2c)', async () => {
    const { base } = await serve();
    const { hostname, port } = new URL(base);
    const answer = await new Promise<string>((resolve, reject) => {
      const s = connect(Number(port), hostname, () => {
        s.write(
          `GET /health HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n`,
        );
      });
      let got = '';
      s.on('data', (d) => {
        got += d.toString();
      });
      s.on('end', () => resolve(got));
      s.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 (200|503) /);
  });

  it('a client that resets the connection mid-upgrade does not take the server down', async () => {
    const { base } = await serve();
    const { hostname, port } = new URL(base);
    for (const path of ['/journal/stream', '/ui/stream', '/anything']) {
      await new Promise<void>((resolve) => {
        const s = connect(Number(port), hostname, () => {
          s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`);
          s.resetAndDestroy();
          resolve();
        });
      });
    }
    await new Promise((r) => setTimeout(r, 100));
    const res = await app!.inject({ method: 'GET', url: '/health' });
    expect([200, 503]).toContain(res.statusCode);
  });
});
