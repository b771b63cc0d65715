/**
 * How the local cluster's harness (the demo, tests, benches) reads the agents' REST APIs: plain
 * http, or — for a cluster whose REST API is https with a private CA and required client
 * certificates — with that CA and a client certificate, as the agents reach each other.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { peerRequest } from '../transport/http-request.ts';
import { type PeerTls, readPeerTls } from '../transport/peer-tls.ts';

/** Files for `restapi.certfile`, `keyfile` and `cafile`; the certificate serves as client one too. */
export interface RestapiTls {
  cafile: string;
  certfile: string;
  keyfile: string;
}

/**
 * Copies the files into `dir` (owned by the agents' OS user through `own`, the key 0600) and
 * returns where they are now: the originals may sit where that user cannot read them.
 */
export function installRestapiTls(src: RestapiTls, dir: string, own: (path: string) => void): RestapiTls {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  own(dir);
  const out: RestapiTls = {
    cafile: join(dir, 'ca.crt'),
    certfile: join(dir, 'node.crt'),
    keyfile: join(dir, 'node.key'),
  };
  for (const k of ['cafile', 'certfile', 'keyfile'] as const) {
    copyFileSync(src[k], out[k]);
    own(out[k]);
  }
  return out;
}

/** The `restapi` keys that make an agent serve https and require a client certificate. */
export function restapiTlsSection(tls: RestapiTls): Record<string, string> {
  return { certfile: tls.certfile, keyfile: tls.keyfile, cafile: tls.cafile, verify_client: 'required' };
}

export class ClusterRest {
  private readonly tls: PeerTls | undefined;
  private readonly authorization: string;

  constructor(auth: { username: string; password: string }, tls: RestapiTls | undefined) {
    this.tls = tls ? readPeerTls({ ...tls, insecure: false }) : undefined;
    this.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
  }

  /** One request with the REST credentials (and TLS files): status and body, or a rejection. */
  request(
    url: string,
    opts: { method?: 'GET' | 'POST' | 'PATCH'; body?: string; timeoutMs?: number } = {},
  ): Promise<{ status: number; text: string }> {
    const headers: Record<string, string> = { authorization: this.authorization };
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    return peerRequest(new URL(url), {
      method: opts.method ?? 'GET',
      headers,
      ...(opts.body !== undefined ? { body: opts.body } : {}),
      timeoutMs: opts.timeoutMs ?? 1500,
      tls: this.tls,
    });
  }

  /** A JSON document from `url`, or null when there is no answer that parses. */
  async json<T>(url: string): Promise<T | null> {
    try {
      return JSON.parse((await this.request(url)).text) as T;
    } catch {
      return null;
    }
  }
}
