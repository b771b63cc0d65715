/**
 * One HTTP(S) request to a peer's REST API, with a deadline for the whole exchange (connect,
 * answer and body). node:http rather than fetch: fetch loads undici and compiles its WebAssembly
 * HTTP parser, about 20 MB of resident memory for an agent that asks its peers a few times a
 * day (a leader race, failsafe); node:http's parser is already in the process for the REST API.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { PeerTls } from './peer-tls.ts';

export interface PeerRequest {
  method?: 'GET' | 'POST' | 'PATCH';
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
  /** For an https peer (null: its files could not be read, the request is not sent). */
  tls?: PeerTls | null | undefined;
}

export interface PeerAnswer {
  status: number;
  text: string;
}

/** A status document is a few kB; an answer larger than this is not one. */
const MAX_BODY_BYTES = 1 << 20;

/** The answer, or a rejection when the peer cannot be reached or does not answer in time. */
export function peerRequest(url: URL, opts: PeerRequest): Promise<PeerAnswer> {
  const send = url.protocol === 'https:' ? httpsRequest : url.protocol === 'http:' ? httpRequest : null;
  if (!send) return Promise.reject(new Error(`not an http(s) URL: ${url.href}`));
  if (send === httpsRequest && opts.tls === null)
    return Promise.reject(new Error('the TLS files for peers cannot be read'));
  return new Promise((resolve, reject) => {
    const req = send(url, {
      method: opts.method ?? 'GET',
      headers: opts.headers,
      signal: AbortSignal.timeout(opts.timeoutMs),
      ...(send === httpsRequest ? (opts.tls ?? {}) : {}),
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) req.destroy(new Error(`answer larger than ${MAX_BODY_BYTES} bytes`));
        else chunks.push(chunk);
      });
      res.on('error', reject);
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    req.end(opts.body);
  });
}
