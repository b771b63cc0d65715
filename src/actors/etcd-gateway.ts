/**
 * The `Kv` contract (etcd-keys.ts) over etcd's v3 JSON gateway (`POST /v3/kv/range`, …), the
 * API Patroni 3.0's etcd3 module speaks: plain HTTP/1.1 with node:http, keys and values base64,
 * int64 fields as decimal strings. It needs neither gRPC nor protobuf, whose loading alone costs
 * the etcd3 package about 100 ms and 8 MB: the CLI runs on it, so that `pgwarden list` answers
 * in the time patronictl's own start takes. Same semantics as the gRPC backend (etcd-dcs.ts):
 * the same KvDcs runs on both, and the integration test runs on both.
 */
import {
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
  type RequestOptions,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { EtcdClientOptions } from '../config/etcd-access.ts';
import {
  b64,
  fromTxn,
  type RawHeader,
  type RawKv,
  type RawTxn,
  revisionOf,
  toRecord,
  toTxn,
} from '../transport/etcd-gateway-json.ts';
import {
  type Kv,
  type KvCallOptions,
  LeaseNotFoundError,
  prefixRangeEnd,
  type Txn,
  type WatchEvent,
} from '../transport/etcd-keys.ts';
import { KvTransientError } from './kv-dcs/calls.ts';

/** gRPC's UNAVAILABLE, which etcd answers while it has no leader or is stopping. */
const UNAVAILABLE = 14;
/** gRPC's UNAUTHENTICATED: our token expired (etcd's simple tokens live 5 min by default). */
const UNAUTHENTICATED = 16;
/** Idle time before TCP keepalive probes start on a watch's connection. */
const WATCH_KEEPALIVE_MS = 5_000;
/** How long a watch may wait for a token before it fails (and is started again). */
const WATCH_AUTH_TIMEOUT_MS = 5_000;
/** Connection errors raised before a request could have been sent. */
const NOT_SENT = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** An error answer (`{"error"|"message", "code"}`) as the Error KvDcs expects of a backend. */
function answerError(status: number, text: string): Error {
  let doc: { error?: string; message?: string; code?: number } = {};
  try {
    doc = JSON.parse(text) as typeof doc;
  } catch {
    // not JSON: a proxy's page, say
  }
  const message = doc.message ?? doc.error ?? `HTTP ${status}: ${text.slice(0, 200)}`;
  if (message.includes('requested lease not found')) return new LeaseNotFoundError(message);
  if (doc.code === UNAVAILABLE) return new KvTransientError(message);
  if (doc.code === UNAUTHENTICATED) return new TokenRejectedError(message);
  return new Error(message);
}

/** etcd refused our token: authenticate again once, then repeat the call. */
class TokenRejectedError extends Error {
  override name = 'TokenRejectedError';
}

export class EtcdGatewayKv implements Kv {
  private readonly endpoints: URL[];
  /** The endpoint that answered last: tried first next time. */
  private current = 0;
  private readonly agent: HttpAgent;
  private readonly secure: boolean;
  private readonly auth: EtcdClientOptions['auth'];
  /** etcd's auth token (Patroni's and etcdctl's way: POST /v3/auth/authenticate), once asked for. */
  private token: Promise<string> | null = null;

  constructor(opts: EtcdClientOptions) {
    this.endpoints = opts.hosts.map((h) => new URL(/^[a-z]+:\/\//i.test(h) ? h : `http://${h}`));
    if (this.endpoints.length === 0) throw new Error('no etcd hosts');
    this.secure = this.endpoints[0]!.protocol === 'https:';
    this.agent = this.secure
      ? new HttpsAgent({ keepAlive: true, maxSockets: 8, ...(opts.tls ?? {}) })
      : new HttpAgent({ keepAlive: true, maxSockets: 8 });
    this.auth = opts.auth;
  }

  private request(url: URL, options: RequestOptions) {
    return (this.secure ? httpsRequest : httpRequest)(url, { ...options, agent: this.agent });
  }

  /** The headers of a call: JSON, and the token when etcd wants users. */
  private async headers(o: KvCallOptions): Promise<Record<string, string>> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (!this.auth) return headers;
    this.token ??= this.authenticate(o).catch((err) => {
      this.token = null;
      throw err;
    });
    headers['authorization'] = await this.token;
    return headers;
  }

  private async authenticate(o: KvCallOptions): Promise<string> {
    const res = await this.post<{ token?: string }>(
      '/v3/auth/authenticate',
      { name: this.auth!.username, password: this.auth!.password },
      o,
      { 'content-type': 'application/json' },
    );
    if (!res.token) throw new Error('etcd authentication: no token in the answer');
    return res.token;
  }

  /** A call with the token; a token etcd no longer takes is replaced once. */
  private async call<T>(path: string, body: unknown, o: KvCallOptions): Promise<T> {
    try {
      return await this.post<T>(path, body, o, await this.headers(o));
    } catch (err) {
      if (!(err instanceof TokenRejectedError) || !this.auth) throw err;
      this.token = null;
      return this.post<T>(path, body, o, await this.headers(o));
    }
  }

  /** One POST to the first endpoint that takes it; JSON answer, or the error KvDcs expects. */
  private async post<T>(
    path: string,
    body: unknown,
    o: KvCallOptions,
    headers: Record<string, string>,
  ): Promise<T> {
    let last: Error = new KvTransientError('no etcd endpoint answered');
    for (let i = 0; i < this.endpoints.length; i++) {
      const at = (this.current + i) % this.endpoints.length;
      try {
        const answer = await this.send(
          new URL(path, this.endpoints[at]),
          JSON.stringify(body),
          o.timeoutMs,
          headers,
        );
        this.current = at;
        if (answer.status !== 200) throw answerError(answer.status, answer.text);
        return JSON.parse(answer.text) as T;
      } catch (err) {
        last = err as Error;
        // Only a request that certainly never left may go to another endpoint.
        if (!(err instanceof KvTransientError)) throw err;
      }
    }
    throw last;
  }

  private send(
    url: URL,
    body: string,
    timeoutMs: number,
    headers: Record<string, string>,
  ): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const req = this.request(url, {
        method: 'POST',
        headers,
        signal: AbortSignal.timeout(Math.max(1, Math.ceil(timeoutMs))),
      });
      req.on('error', (err: NodeJS.ErrnoException) =>
        reject(
          err.code && NOT_SENT.has(err.code)
            ? new KvTransientError(`${url.host}: ${err.message}`)
            : new Error(`${url.host}: ${err.message}`),
        ),
      );
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      });
      req.end(body);
    });
  }

  async range(key: string, prefix: boolean, o: KvCallOptions) {
    const res = await this.call<RawHeader & { kvs?: RawKv[] }>(
      '/v3/kv/range',
      { key: b64(key), ...(prefix ? { range_end: b64(prefixRangeEnd(key)) } : {}) },
      o,
    );
    return { kvs: (res.kvs ?? []).map(toRecord), revision: revisionOf(res) };
  }

  async put(key: string, value: string, lease: string | undefined, o: KvCallOptions) {
    const body = { key: b64(key), value: b64(value), ...(lease && lease !== '0' ? { lease } : {}) };
    return revisionOf(await this.call<RawHeader>('/v3/kv/put', body, o));
  }

  async delete(key: string, o: KvCallOptions) {
    return revisionOf(await this.call<RawHeader>('/v3/kv/deleterange', { key: b64(key) }, o));
  }

  async txn(txn: Txn, o: KvCallOptions) {
    const res = await this.call<RawTxn>('/v3/kv/txn', toTxn(txn), o);
    return fromTxn(res, revisionOf(res));
  }

  async leaseGrant(ttl: number, o: KvCallOptions) {
    const res = await this.call<{ ID?: string; error?: string }>('/v3/lease/grant', { TTL: ttl, ID: 0 }, o);
    if (res.error) throw new Error(res.error);
    if (!res.ID) throw new Error('lease grant: no lease id in the answer');
    return res.ID;
  }

  async leaseKeepAlive(id: string, o: KvCallOptions) {
    // A stream in gRPC; over the gateway one request gives one answer, then the stream ends.
    const res = await this.call<{ result?: { TTL?: string }; error?: { message?: string } }>(
      '/v3/lease/keepalive',
      { ID: id },
      o,
    );
    if (res.error) throw new Error(res.error.message ?? 'lease keepalive failed');
    return Number(res.result?.TTL ?? 0);
  }

  async leaseRevoke(id: string, o: KvCallOptions) {
    try {
      await this.call('/v3/lease/revoke', { ID: id }, o);
      return true;
    } catch (err) {
      // etcd answers NOT_FOUND for a lease that expired or was revoked meanwhile.
      if (err instanceof LeaseNotFoundError) return false;
      throw err;
    }
  }

  /**
   * A long-lived POST /v3/watch whose answer is a stream of JSON documents, one per change
   * batch. Not used by the CLI (ctl mode reads once); written so that the backend fulfils the
   * whole contract and passes the same tests as the gRPC one.
   */
  watch(
    prefix: string,
    startRevision: string,
    onEvents: (events: WatchEvent[], revision: string) => void,
    onError: (err: Error) => void,
  ): () => void {
    let done = false;
    const controller = new AbortController();
    const fail = (err: Error) => {
      if (done) return;
      done = true;
      controller.abort();
      onError(err);
    };
    const at = this.current;
    const open = (headers: Record<string, string>) => {
      if (done) return;
      const req = this.request(new URL('/v3/watch', this.endpoints[at]), {
        method: 'POST',
        headers,
        signal: controller.signal,
      });
      // Nothing flows on an idle watch: TCP keepalives find a peer that vanished without a word.
      req.on('socket', (socket) => socket.setKeepAlive(true, WATCH_KEEPALIVE_MS));
      req.on('error', (err: NodeJS.ErrnoException) => {
        // The next attempt goes to the next endpoint when this one cannot be reached.
        if (err.code && NOT_SENT.has(err.code) && this.current === at)
          this.current = (at + 1) % this.endpoints.length;
        fail(err);
      });
      req.on('response', (res) => this.watchStream(res, onEvents, fail, () => done));
      req.end(
        JSON.stringify({
          create_request: {
            key: b64(prefix),
            range_end: b64(prefixRangeEnd(prefix)),
            start_revision: startRevision,
          },
        }),
      );
    };
    this.headers({ timeoutMs: WATCH_AUTH_TIMEOUT_MS }).then(open, (err: Error) => fail(err));
    return () => {
      done = true;
      controller.abort();
    };
  }

  private watchStream(
    res: IncomingMessage,
    onEvents: (events: WatchEvent[], revision: string) => void,
    fail: (err: Error) => void,
    isDone: () => boolean,
  ): void {
    if (res.statusCode !== 200) {
      let text = '';
      res.on('data', (c: Buffer) => {
        text += c.toString();
      });
      res.on('end', () => fail(answerError(res.statusCode ?? 0, text)));
      return;
    }
    let buffered = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buffered += chunk;
      for (let nl = buffered.indexOf('\n'); nl >= 0 && !isDone(); nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line) this.watchLine(line, onEvents, fail);
      }
    });
    res.on('error', (err) => fail(err));
    res.on('end', () => fail(new Error('watch stream ended')));
  }

  private watchLine(
    line: string,
    onEvents: (events: WatchEvent[], revision: string) => void,
    fail: (err: Error) => void,
  ): void {
    let doc: {
      result?: RawHeader & {
        canceled?: boolean;
        cancel_reason?: string;
        compact_revision?: string;
        events?: Array<{ type?: string; kv?: RawKv }>;
      };
      error?: { message?: string; grpc_code?: number };
    };
    try {
      doc = JSON.parse(line) as typeof doc;
    } catch {
      fail(new Error(`watch: unreadable answer: ${line.slice(0, 200)}`));
      return;
    }
    if (doc.error) {
      fail(new Error(`watch: ${doc.error.message ?? 'error'}`));
      return;
    }
    const r = doc.result;
    if (!r) return;
    if (r.canceled) {
      fail(new Error(`watch canceled by etcd: ${r.cancel_reason || `compacted at ${r.compact_revision}`}`));
      return;
    }
    if (!r.events?.length) return;
    onEvents(
      r.events.map((ev) => ({ type: ev.type === 'DELETE' ? 'delete' : 'put', kv: toRecord(ev.kv ?? {}) })),
      revisionOf(r),
    );
  }

  close(): void {
    this.agent.destroy();
  }
}
