/**
 * An agent's own requests to https peers (the race's probe, POST /failsafe, gossip) present the
 * client certificate and trust the CA that Patroni's rule names (config/peer-tls.ts): checked
 * against a real https server that requires a client certificate from a private CA.
 */

import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { parseConfigText } from '../../src/config/load.ts';
import { peerTlsFiles } from '../../src/config/peer-tls.ts';
import { webSocketDialer } from '../../src/transport/gossip-ws.ts';
import { peerRequest } from '../../src/transport/http-request.ts';
import { fetchPeerStatus, peerClientOptions, postFailsafe } from '../../src/transport/peer-client.ts';
import { readPeerTls } from '../../src/transport/peer-tls.ts';
import { MINIMAL_CONFIG } from '../helpers/minimal-config.ts';
import { makeTestCerts, type TestCerts } from '../helpers/tls-certs.ts';

const STATUS = {
  state: 'running',
  role: 'replica',
  timeline: 1,
  xlog: { received_location: 7, replayed_location: 7 },
};

describe("peerTlsFiles: Patroni's rule for its own requests", () => {
  it('ctl first, then restapi; a key file only with a certificate; ctl.insecure', () => {
    expect(peerTlsFiles({})).toEqual({ insecure: false });
    expect(peerTlsFiles({ restapi: { certfile: '/r.crt', keyfile: '/r.key', cafile: '/r-ca.crt' } })).toEqual(
      { certfile: '/r.crt', keyfile: '/r.key', cafile: '/r-ca.crt', insecure: false },
    );
    expect(
      peerTlsFiles({
        restapi: { certfile: '/r.crt', keyfile: '/r.key', cafile: '/r-ca.crt' },
        ctl: { certfile: '/c.crt', keyfile: '/c.key', cacert: '/c-ca.crt', insecure: true },
      }),
    ).toEqual({ certfile: '/c.crt', keyfile: '/c.key', cafile: '/c-ca.crt', insecure: true });
    expect(peerTlsFiles({ restapi: { keyfile: '/r.key' } })).toEqual({ insecure: false });
    // restapi.cacert is not a key Patroni reads; ctl.cafile neither.
    expect(peerTlsFiles({ restapi: { cacert: '/x' }, ctl: { cafile: '/y' } })).toEqual({ insecure: false });
  });

  it('a file that cannot be read is named', () => {
    expect(() => readPeerTls({ cafile: '/nonexistent/ca.crt', insecure: false })).toThrow(
      /the CA file \/nonexistent\/ca\.crt/,
    );
  });
});

describe('requests to a peer that requires a client certificate from a private CA', () => {
  let certs: TestCerts;
  let server: Server;
  let wss: WebSocketServer;
  let port = 0;
  beforeAll(async () => {
    certs = makeTestCerts();
    server = createServer(
      {
        cert: readFileSync(certs.file('server.crt')),
        key: readFileSync(certs.file('server.key')),
        ca: readFileSync(certs.file('ca.crt')),
        requestCert: true,
        rejectUnauthorized: true,
      },
      (req, res) => {
        if (req.method === 'POST') return void res.writeHead(200).end('Accepted');
        res.end(req.url === '/patroni' ? JSON.stringify(STATUS) : '{"ok":true}');
      },
    );
    wss = new WebSocketServer({ server });
    wss.on('connection', (ws) => ws.send(Buffer.from('hello'))); // binary: gossip frames are
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    wss?.close();
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
    certs?.remove();
  });

  const files = () => ({
    cafile: certs.file('ca.crt'),
    certfile: certs.file('client.crt'),
    keyfile: certs.file('client.key'),
    insecure: false,
  });
  const get = (tls: ReturnType<typeof readPeerTls> | null | undefined) =>
    peerRequest(new URL(`https://127.0.0.1:${port}/ok`), { timeoutMs: 3000, tls });

  it('answers with the CA and the client certificate', async () => {
    expect(await get(readPeerTls(files()))).toEqual({ status: 200, text: '{"ok":true}' });
  });

  it('fails without the CA, without the client certificate, or with the rogue one', async () => {
    await expect(get(undefined)).rejects.toThrow();
    await expect(get(readPeerTls({ ...files(), cafile: undefined }))).rejects.toThrow();
    await expect(get(readPeerTls({ cafile: certs.file('ca.crt'), insecure: false }))).rejects.toThrow();
    await expect(
      get(readPeerTls({ ...files(), certfile: certs.file('rogue.crt'), keyfile: certs.file('rogue.key') })),
    ).rejects.toThrow();
    // Files that could not be read: not sent at all.
    await expect(get(null)).rejects.toThrow(/cannot be read/);
  });

  it("the race's probe and POST /failsafe use the files a node's YAML names (and fail without them)", async () => {
    const withFiles = parseConfigText(
      `${MINIMAL_CONFIG}ctl: {cacert: ${certs.file('ca.crt')}, certfile: ${certs.file('client.crt')}, keyfile: ${certs.file('client.key')}}\n`,
    );
    const without = parseConfigText(MINIMAL_CONFIG);
    const member = {
      name: 'b',
      data: { api_url: `https://127.0.0.1:${port}/patroni` },
    } as unknown as Parameters<typeof fetchPeerStatus>[0];
    expect(await fetchPeerStatus(member, peerClientOptions(withFiles))).toMatchObject({
      reachable: true,
      walPosition: 7,
    });
    expect((await fetchPeerStatus(member, peerClientOptions(without))).reachable).toBe(false);
    const post = (config: typeof without) =>
      postFailsafe(
        `https://127.0.0.1:${port}/patroni`,
        { name: 'a' },
        { ...peerClientOptions(config), timeoutMs: 3000 },
      );
    expect(await post(withFiles)).toEqual({ status: 200, text: 'Accepted' });
    expect(await post(without)).toBeNull();
  });

  it("ctl.insecure: the peer's certificate goes unchecked, the client certificate is still shown", async () => {
    expect((await get(readPeerTls({ ...files(), cafile: undefined, insecure: true }))).status).toBe(200);
  });

  const dialOnce = (tls: ReturnType<typeof readPeerTls> | null) =>
    new Promise<string>((resolve) => {
      const dialer = webSocketDialer({
        me: () => 'a',
        scope: () => 's',
        authorization: () => undefined,
        tls: () => tls,
        handshakeTimeoutMs: 3000,
      });
      const link = dialer.dial({ name: 'b', apiUrl: `https://127.0.0.1:${port}/patroni` }, {
        open: () => undefined,
        message: (data: Uint8Array) => {
          link.close();
          resolve(`message ${Buffer.from(data).toString()}`);
        },
        close: () => resolve('closed'),
      } as never);
    });

  it('gossip dials wss:// peers with the same files', async () => {
    expect(await dialOnce(readPeerTls(files()))).toBe('message hello');
    expect(await dialOnce(readPeerTls({ cafile: certs.file('ca.crt'), insecure: false }))).toBe('closed');
    expect(await dialOnce(null)).toBe('closed');
  });
});
