/**
 * patronictl's PatroniRequest: the member's api_url with the path replaced by `/<endpoint>`,
 * Basic auth from ctl/restapi authentication, CA/client certificate from the config, `-k` to
 * skip server verification. Bodies are JSON (Python json.dumps spelling).
 */

import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Member } from '../../cluster/view.ts';
import { type PeerTls, readPeerTls } from '../../transport/peer-tls.ts';
import type { CtlConfig } from './config.ts';
import { pyDumps } from './format.ts';

export interface RestResponse {
  status: number;
  text: string;
}

/** Nothing answered (connection refused, timeout, TLS failure). */
export class RestUnreachable extends Error {
  override name = 'RestUnreachable';
}

export const USER_AGENT = 'Patroni/3.0.2 Python/3.11.7 Linux';

export function endpointUrl(apiUrl: string, endpoint?: string): URL {
  const url = new URL(apiUrl);
  if (endpoint) {
    url.pathname = `/${endpoint}`;
    url.search = '';
    url.hash = '';
  }
  return url;
}

export class RestClient {
  private tls: PeerTls | null = null;

  constructor(
    private readonly config: CtlConfig['rest'],
    private readonly timeoutMs = 120_000,
  ) {}

  private tlsFiles() {
    this.tls ??= readPeerTls(this.config);
    return this.tls;
  }

  call(member: Member, method = 'GET', endpoint?: string, body?: unknown): Promise<RestResponse> {
    const apiUrl = member.data.api_url;
    if (!apiUrl) return Promise.reject(new RestUnreachable(`member ${member.name} has no api_url`));
    return this.send(endpointUrl(apiUrl, endpoint), method, body);
  }

  send(url: URL, method: string, body?: unknown): Promise<RestResponse> {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : pyDumps(body);
    const headers: Record<string, string> = { 'User-Agent': USER_AGENT };
    const { auth } = this.config;
    if (auth)
      headers['Authorization'] =
        `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
    if (payload !== undefined) headers['Content-Length'] = String(Buffer.byteLength(payload));
    const https = url.protocol === 'https:';
    return new Promise((resolve, reject) => {
      let tls = {};
      try {
        tls = https ? this.tlsFiles() : {};
      } catch (err) {
        reject(new RestUnreachable((err as Error).message));
        return;
      }
      const req = (https ? httpsRequest : httpRequest)(
        url,
        { method: method.toUpperCase(), headers, timeout: this.timeoutMs, ...tls },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', (err) => reject(new RestUnreachable(err.message)));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`timed out after ${this.timeoutMs} ms`)));
      req.on('error', (err) => reject(new RestUnreachable(`${url.origin}: ${err.message}`)));
      req.end(payload);
    });
  }
}
