import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Member } from '../../src/cluster/view.ts';
import { fetchPeerStatus, parsePeerDocument } from '../../src/transport/peer-client.ts';

describe('parsePeerDocument', () => {
  it('primary document: not in recovery, WAL position from xlog.location', () => {
    const doc = {
      state: 'running',
      role: 'master',
      xlog: { location: 50331968 },
      timeline: 3,
      tags: {},
      patroni: { version: '3.0.2', scope: 'batman' },
    };
    expect(parsePeerDocument('pg1', doc)).toEqual({
      name: 'pg1',
      reachable: true,
      inRecovery: false,
      walPosition: 50331968,
      timeline: 3,
      nofailover: false,
      watchdogFailed: false,
      streaming: false,
    });
  });

  it('replica document: in recovery, max(received, replayed)', () => {
    const base = { state: 'running', role: 'replica', timeline: 2 };
    expect(
      parsePeerDocument('pg2', {
        ...base,
        xlog: { received_location: 900, replayed_location: 800, replayed_timestamp: null, paused: false },
      }),
    ).toEqual({
      name: 'pg2',
      reachable: true,
      inRecovery: true,
      walPosition: 900,
      timeline: 2,
      nofailover: false,
      watchdogFailed: false,
      // Patroni 3.0.2 does not say: not known to stream.
      streaming: false,
    });
    // pgwarden (and later Patroni) says whether its WAL receiver streams.
    expect(
      parsePeerDocument('pg2', { ...base, xlog: { replayed_location: 600 }, replication_state: 'streaming' })
        ?.streaming,
    ).toBe(true);
    expect(
      parsePeerDocument('pg2', {
        ...base,
        xlog: { replayed_location: 600 },
        replication_state: 'in archive recovery',
      })?.streaming,
    ).toBe(false);
    expect(
      parsePeerDocument('pg2', { ...base, xlog: { received_location: 700, replayed_location: 800 } })
        ?.walPosition,
    ).toBe(800);
    expect(parsePeerDocument('pg2', { ...base, xlog: { replayed_location: 600 } })?.walPosition).toBe(600);
    expect(parsePeerDocument('pg2', { ...base, xlog: {} })?.walPosition).toBe(0);
  });

  it('no xlog (PostgreSQL not running) → null', () => {
    expect(parsePeerDocument('pg3', { state: 'stopped', role: 'replica', tags: {} })).toBeNull();
    expect(parsePeerDocument('pg3', { state: 'stopped', xlog: null })).toBeNull();
    expect(parsePeerDocument('pg3', { state: 'stopped', xlog: 5 })).toBeNull();
  });

  it('nofailover as every reader takes it (cluster/tags.ts): a boolean or its text, else failover_priority 0 or less', () => {
    const d = { xlog: { location: 1 }, timeline: 1 };
    expect(parsePeerDocument('a', { ...d, tags: { nofailover: true } })?.nofailover).toBe(true);
    expect(parsePeerDocument('a', { ...d, tags: { nofailover: false } })?.nofailover).toBe(false);
    // A member that asks not to be promoted in text is not promoted (it was, before: only true counted).
    expect(parsePeerDocument('a', { ...d, tags: { nofailover: 'true' } })?.nofailover).toBe(true);
    expect(parsePeerDocument('a', { ...d, tags: { failover_priority: 0 } })?.nofailover).toBe(true);
    expect(parsePeerDocument('a', d)?.nofailover).toBe(false);
  });

  it('watchdog_failed', () => {
    const d = { xlog: { received_location: 5, replayed_location: 5 }, timeline: 1 };
    expect(parsePeerDocument('a', { ...d, watchdog_failed: true })?.watchdogFailed).toBe(true);
    expect(parsePeerDocument('a', d)?.watchdogFailed).toBe(false);
  });

  it('missing timeline or non-numeric location → null fields', () => {
    const p = parsePeerDocument('a', { xlog: { location: '123' } });
    expect(p).toMatchObject({ inRecovery: false, walPosition: null, timeline: null });
  });
});

// ---------------------------------------------------------------------------------------------
// fetchPeerStatus against a local server
// ---------------------------------------------------------------------------------------------

const servers: Server[] = [];
const pending: ServerResponse[] = [];

afterEach(async () => {
  for (const res of pending.splice(0)) res.destroy();
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise<void>((resolve) => {
          s.closeAllConnections();
          s.close(() => resolve());
        }),
    ),
  );
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<number> {
  const s = createServer(handler);
  servers.push(s);
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return (s.address() as AddressInfo).port;
}

function peer(name: string, port: number, tags?: Record<string, unknown>): Member {
  return {
    name,
    index: '1',
    session: '1',
    data: {
      conn_url: `postgres://127.0.0.1:5432/postgres`,
      api_url: `http://127.0.0.1:${port}/patroni`,
      state: 'running',
      role: 'replica',
      version: '3.0.2',
      ...(tags ? { tags } : {}),
    },
  };
}

const json = (res: ServerResponse, code: number, body: unknown) => {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

describe('fetchPeerStatus', () => {
  it('GETs the api_url and parses the answer', async () => {
    const seen: Array<{ method?: string; url?: string; auth?: string }> = [];
    const port = await serve((req, res) => {
      seen.push({ method: req.method, url: req.url, auth: req.headers.authorization });
      json(res, 200, {
        state: 'running',
        role: 'replica',
        xlog: { received_location: 4096, replayed_location: 2048, replayed_timestamp: null, paused: false },
        timeline: 4,
        tags: { nofailover: true },
        watchdog_failed: true,
      });
    });
    const st = await fetchPeerStatus(peer('pg2', port), { basicAuth: 'patroni:s3cret' });
    expect(st).toEqual({
      name: 'pg2',
      reachable: true,
      inRecovery: true,
      walPosition: 4096,
      timeline: 4,
      nofailover: true,
      watchdogFailed: true,
      streaming: false,
    });
    expect(seen).toEqual([
      { method: 'GET', url: '/patroni', auth: `Basic ${Buffer.from('patroni:s3cret').toString('base64')}` },
    ]);
  });

  it('sends no authorization header without basicAuth', async () => {
    let auth: string | undefined = 'unset';
    const port = await serve((req, res) => {
      auth = req.headers.authorization;
      json(res, 200, { role: 'master', xlog: { location: 77 }, timeline: 1 });
    });
    const st = await fetchPeerStatus(peer('pg1', port));
    expect(st).toMatchObject({ reachable: true, inRecovery: false, walPosition: 77 });
    expect(auth).toBeUndefined();
  });

  it('a 503 health answer with a document still counts (Patroni ignores the status code)', async () => {
    const port = await serve((_req, res) =>
      json(res, 503, {
        role: 'replica',
        xlog: { received_location: 10, replayed_location: 10 },
        timeline: 1,
      }),
    );
    expect(await fetchPeerStatus(peer('pg2', port))).toMatchObject({ reachable: true, walPosition: 10 });
  });

  it('a document without xlog → unreachable, keeping the nofailover tag from the member key', async () => {
    const port = await serve((_req, res) => json(res, 200, { state: 'stopped', role: 'replica' }));
    expect(await fetchPeerStatus(peer('pg2', port, { nofailover: true }))).toEqual({
      name: 'pg2',
      reachable: false,
      inRecovery: true,
      walPosition: null,
      timeline: null,
      nofailover: true,
      watchdogFailed: false,
    });
  });

  it('a body that is not JSON → unreachable', async () => {
    const port = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>nope</html>');
    });
    expect((await fetchPeerStatus(peer('pg2', port))).reachable).toBe(false);
  });

  it('no answer → unreachable within the timeout', async () => {
    const port = await serve((_req, res) => {
      pending.push(res); // never answered
    });
    const t0 = performance.now();
    const st = await fetchPeerStatus(peer('pg2', port), { timeoutMs: 300 });
    const elapsed = performance.now() - t0;
    expect(st).toEqual({
      name: 'pg2',
      reachable: false,
      inRecovery: true,
      walPosition: null,
      timeline: null,
      nofailover: false,
      watchdogFailed: false,
    });
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(1500);
  });

  it('headers sent but the body stalls → unreachable within the timeout', async () => {
    const port = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"role":"mas');
      pending.push(res);
    });
    const t0 = performance.now();
    const st = await fetchPeerStatus(peer('pg2', port), { timeoutMs: 300 });
    expect(st.reachable).toBe(false);
    expect(performance.now() - t0).toBeLessThan(1500);
  });

  it('connection refused → unreachable', async () => {
    const port = await serve(() => {});
    const s = servers.pop()!;
    await new Promise<void>((resolve) => s.close(() => resolve()));
    const t0 = performance.now();
    const st = await fetchPeerStatus(peer('pg2', port, { nofailover: true }), { timeoutMs: 2000 });
    expect(st).toMatchObject({ name: 'pg2', reachable: false, nofailover: true, walPosition: null });
    expect(performance.now() - t0).toBeLessThan(1500);
  });

  it('a member without api_url → unreachable without a request', async () => {
    const m = peer('pg2', 1);
    m.data.api_url = '';
    expect((await fetchPeerStatus(m)).reachable).toBe(false);
  });
});
