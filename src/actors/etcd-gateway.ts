/**
 * The `Kv` contract (etcd-keys.ts) over etcd's v3 JSON gateway (`POST /v3/kv/range`, …), the
 * API Patroni 3.0's etcd3 module speaks: plain HTTP/1.1 with node:http, keys and values base64,
 * int64 fields as decimal strings. It needs neither gRPC nor protobuf, whose loading alone costs
 * the etcd3 package about 100 ms and 8 MB: the CLI runs on it, so that `pgwarden list` answers
 * in the time patronictl's own start takes. Same semantics as the gRPC backend (etcd-dcs.ts):
 * the same KvDcs runs on both, and the integration test runs on both.
 */
import { Agent, request } from 'node:http';
import {
  type Kv,
  type KvCallOptions,
  type KvRecord,
  LeaseNotFoundError,
  prefixRangeEnd,
  type Txn,
  type TxnOp,
  type TxnResult,
  type WatchEvent,
} from '../transport/etcd-keys.ts';
import { KvTransientError } from './kv-dcs/calls.ts';

/** gRPC's UNAVAILABLE, which etcd answers while it has no leader or is stopping. */
const UNAVAILABLE = 14;
/** Connection errors raised before a request could have been sent. */
const NOT_SENT = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
const unb64 = (s: string | undefined) => (s ? Buffer.from(s, 'base64').toString() : '');

interface RawKv {
  key?: string;
  value?: string;
  mod_revision?: string;
  create_revision?: string;
  lease?: string;
}

interface RawHeader {
  header?: { revision?: string };
}

interface RawTxn extends RawHeader {
  succeeded?: boolean;
  responses?: Array<{ response_txn?: RawTxn }>;
}

/** The gateway leaves out fields at their zero value: an absent revision or lease is "0". */
function toRecord(kv: RawKv): KvRecord {
  return {
    key: unb64(kv.key),
    value: unb64(kv.value),
    modRevision: kv.mod_revision ?? '0',
    createRevision: kv.create_revision ?? '0',
    lease: kv.lease ?? '0',
  };
}

const revisionOf = (res: RawHeader) => res.header?.revision ?? '0';

function toOp(op: TxnOp): Record<string, unknown> {
  if ('put' in op) {
    const { key, value, lease } = op.put;
    return { request_put: { key: b64(key), value: b64(value), ...(lease ? { lease } : {}) } };
  }
  if ('delete' in op) return { request_delete_range: { key: b64(op.delete.key) } };
  return { request_txn: toTxn(op.txn) };
}

function toTxn(txn: Txn): Record<string, unknown> {
  return {
    compare: txn.compare.map((c) => {
      const key = b64(c.key);
      if (c.target === 'value') return { key, target: 'VALUE', result: 'EQUAL', value: b64(c.equals) };
      if (c.target === 'create') return { key, target: 'CREATE', result: 'EQUAL', create_revision: c.equals };
      return { key, target: 'MOD', result: 'EQUAL', mod_revision: c.equals };
    }),
    success: txn.success.map(toOp),
    failure: (txn.failure ?? []).map(toOp),
  };
}

function fromTxn(res: RawTxn, revision: string): TxnResult {
  return {
    succeeded: res.succeeded === true,
    revision,
    nested: (res.responses ?? []).map((r) => (r.response_txn ? fromTxn(r.response_txn, revision) : null)),
  };
}

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
  return new Error(message);
}

export class EtcdGatewayKv implements Kv {
  private readonly endpoints: URL[];
  /** The endpoint that answered last: tried first next time. */
  private current = 0;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 8 });

  constructor(hosts: string[]) {
    this.endpoints = hosts.map((h) => new URL(/^[a-z]+:\/\//i.test(h) ? h : `http://${h}`));
    if (this.endpoints.length === 0) throw new Error('no etcd hosts');
  }

  /** One POST to the first endpoint that takes it; JSON answer, or the error KvDcs expects. */
  private async post<T>(path: string, body: unknown, o: KvCallOptions): Promise<T> {
    let last: Error = new KvTransientError('no etcd endpoint answered');
    for (let i = 0; i < this.endpoints.length; i++) {
      const at = (this.current + i) % this.endpoints.length;
      try {
        const answer = await this.send(new URL(path, this.endpoints[at]), JSON.stringify(body), o.timeoutMs);
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

  private send(url: URL, body: string, timeoutMs: number): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const req = request(url, {
        method: 'POST',
        agent: this.agent,
        headers: { 'content-type': 'application/json' },
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
    const res = await this.post<RawHeader & { kvs?: RawKv[] }>(
      '/v3/kv/range',
      { key: b64(key), ...(prefix ? { range_end: b64(prefixRangeEnd(key)) } : {}) },
      o,
    );
    return { kvs: (res.kvs ?? []).map(toRecord), revision: revisionOf(res) };
  }

  async put(key: string, value: string, lease: string | undefined, o: KvCallOptions) {
    const body = { key: b64(key), value: b64(value), ...(lease && lease !== '0' ? { lease } : {}) };
    return revisionOf(await this.post<RawHeader>('/v3/kv/put', body, o));
  }

  async delete(key: string, o: KvCallOptions) {
    return revisionOf(await this.post<RawHeader>('/v3/kv/deleterange', { key: b64(key) }, o));
  }

  async txn(txn: Txn, o: KvCallOptions) {
    const res = await this.post<RawTxn>('/v3/kv/txn', toTxn(txn), o);
    return fromTxn(res, revisionOf(res));
  }

  async leaseGrant(ttl: number, o: KvCallOptions) {
    const res = await this.post<{ ID?: string; error?: string }>('/v3/lease/grant', { TTL: ttl, ID: 0 }, o);
    if (res.error) throw new Error(res.error);
    if (!res.ID) throw new Error('lease grant: no lease id in the answer');
    return res.ID;
  }

  async leaseKeepAlive(id: string, o: KvCallOptions) {
    // A stream in gRPC; over the gateway one request gives one answer, then the stream ends.
    const res = await this.post<{ result?: { TTL?: string }; error?: { message?: string } }>(
      '/v3/lease/keepalive',
      { ID: id },
      o,
    );
    if (res.error) throw new Error(res.error.message ?? 'lease keepalive failed');
    return Number(res.result?.TTL ?? 0);
  }

  async leaseRevoke(id: string, o: KvCallOptions) {
    try {
      await this.post('/v3/lease/revoke', { ID: id }, o);
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
    const url = new URL('/v3/watch', this.endpoints[this.current]);
    const req = request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      signal: controller.signal,
    });
    req.on('error', (err) => fail(err));
    req.on('response', (res) => {
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
        for (let nl = buffered.indexOf('\n'); nl >= 0 && !done; nl = buffered.indexOf('\n')) {
          const line = buffered.slice(0, nl).trim();
          buffered = buffered.slice(nl + 1);
          if (line) this.watchLine(line, onEvents, fail);
        }
      });
      res.on('error', (err) => fail(err));
      res.on('end', () => fail(new Error('watch stream ended')));
    });
    req.end(
      JSON.stringify({
        create_request: {
          key: b64(prefix),
          range_end: b64(prefixRangeEnd(prefix)),
          start_revision: startRevision,
        },
      }),
    );
    return () => {
      done = true;
      controller.abort();
    };
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
