/**
 * The real etcd backend: `EtcdKv` implements the `Kv` contract over gRPC and `EtcdDcs` runs
 * `KvDcs` (kv-dcs/) on top of it.
 */

import { noop } from 'cockatiel';
import {
  CompareResult,
  CompareTarget,
  Etcd3,
  GRPCUnavailableError,
  type ICompare,
  type IKeyValue,
  type IRequestOp,
} from 'etcd3';
import type { EtcdClientOptions } from '../config/etcd-access.ts';
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
import { KvDcs, type KvDcsOptions, KvTransientError } from './kv-dcs/index.ts';

// Re-exported so code that imported the shared layer from here keeps working.
export { KvDcs, type KvDcsOptions, KvTransientError };

function toRecord(kv: IKeyValue): KvRecord {
  return {
    key: kv.key.toString(),
    value: kv.value.toString(),
    modRevision: String(kv.mod_revision),
    createRevision: String(kv.create_revision),
    lease: String(kv.lease || '0'),
  };
}

function mapError(err: unknown): Error {
  const e = err instanceof Error ? err : new Error(String(err));
  if (e.message.includes('requested lease not found')) return new LeaseNotFoundError(e.message);
  if (e instanceof GRPCUnavailableError || (e as { code?: number }).code === 14) {
    return new KvTransientError(e.message);
  }
  return e;
}

function toCompare(c: Txn['compare'][number]): ICompare {
  const key = Buffer.from(c.key);
  const result = CompareResult.Equal;
  if (c.target === 'value') return { key, target: CompareTarget.Value, result, value: Buffer.from(c.equals) };
  if (c.target === 'create') return { key, target: CompareTarget.Create, result, create_revision: c.equals };
  return { key, target: CompareTarget.Mod, result, mod_revision: c.equals };
}

function toRequestOp(op: TxnOp): IRequestOp {
  if ('put' in op) {
    const { key, value, lease } = op.put;
    return { request_put: { key: Buffer.from(key), value: Buffer.from(value), lease: lease ?? '0' } };
  }
  if ('delete' in op) return { request_delete_range: { key: Buffer.from(op.delete.key) } };
  return { request_txn: toTxnRequest(op.txn) };
}

function toTxnRequest(txn: Txn) {
  return {
    compare: txn.compare.map(toCompare),
    success: txn.success.map(toRequestOp),
    failure: (txn.failure ?? []).map(toRequestOp),
  };
}

interface RawTxnResponse {
  header: { revision: string };
  succeeded: boolean;
  responses: Array<{ response_txn?: RawTxnResponse | null }>;
}

function fromTxnResponse(res: RawTxnResponse, revision: string): TxnResult {
  return {
    succeeded: res.succeeded,
    revision,
    nested: (res.responses ?? []).map((r) =>
      r.response_txn ? fromTxnResponse(r.response_txn, revision) : null,
    ),
  };
}

/**
 * etcd over gRPC via the etcd3 package's low-level clients only. The package's retry and
 * circuit-breaker policies are switched off: KvDcs owns retries and deadlines, and a breaker
 * that stays open for 5 s after etcd returns would only delay recovery.
 */
class EtcdKv implements Kv {
  private readonly client: Etcd3;

  constructor(opts: EtcdClientOptions) {
    const { hosts, tls, auth } = opts;
    this.client = new Etcd3({
      hosts,
      // Without a CA file, https trusts the system's CAs (grpc's default roots).
      ...(tls
        ? {
            credentials: {
              rootCertificate: tls.ca as Buffer,
              ...(tls.key ? { privateKey: tls.key } : {}),
              ...(tls.cert ? { certChain: tls.cert } : {}),
            },
          }
        : {}),
      ...(auth ? { auth } : {}),
      faultHandling: { host: () => noop, global: noop },
      grpcOptions: {
        // grpc-js backs off reconnects up to 120 s by default; etcd restarts must be seen quickly.
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.min_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 1000,
        // A silently vanished server must break the watch stream (etcd allows pings every 5 s).
        'grpc.keepalive_time_ms': 10_000,
        'grpc.keepalive_timeout_ms': 5_000,
        'grpc.keepalive_permit_without_calls': 1,
      },
    });
  }

  private async run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw mapError(err);
    }
  }

  private deadline(o: KvCallOptions) {
    return { deadline: Date.now() + o.timeoutMs };
  }

  range(key: string, prefix: boolean, o: KvCallOptions) {
    return this.run(async () => {
      const res = await this.client.kv.range(
        { key: Buffer.from(key), range_end: prefix ? prefixRangeEnd(key) : undefined },
        this.deadline(o),
      );
      return { kvs: res.kvs.map(toRecord), revision: String(res.header.revision) };
    });
  }

  put(key: string, value: string, lease: string | undefined, o: KvCallOptions) {
    return this.run(async () => {
      const res = await this.client.kv.put(
        { key: Buffer.from(key), value: Buffer.from(value), lease: lease ?? '0' },
        this.deadline(o),
      );
      return String(res.header.revision);
    });
  }

  delete(key: string, o: KvCallOptions) {
    return this.run(async () => {
      const res = await this.client.kv.deleteRange({ key: Buffer.from(key) }, this.deadline(o));
      return String(res.header.revision);
    });
  }

  txn(txn: Txn, o: KvCallOptions) {
    return this.run(async () => {
      const res = (await this.client.kv.txn(
        toTxnRequest(txn),
        this.deadline(o),
      )) as unknown as RawTxnResponse;
      return fromTxnResponse(res, String(res.header.revision));
    });
  }

  leaseGrant(ttl: number, o: KvCallOptions) {
    return this.run(async () => {
      const res = await this.client.leaseClient.leaseGrant({ TTL: ttl, ID: 0 }, this.deadline(o));
      if (res.error) throw new Error(res.error);
      return String(res.ID);
    });
  }

  leaseRevoke(id: string, o: KvCallOptions) {
    return this.run(async () => {
      try {
        await this.client.leaseClient.leaseRevoke({ ID: id }, this.deadline(o));
        return true;
      } catch (err) {
        // etcd answers NOT_FOUND for a lease that expired or was revoked meanwhile.
        if (/not found/i.test((err as Error).message)) return false;
        throw err;
      }
    });
  }

  /**
   * One request on a fresh keepalive stream, half-closed at once. Ending our side before the
   * stream can fail matters: etcd3 treats an error on a still-writable stream as a host
   * failure and tears down every channel, the watch included.
   */
  leaseKeepAlive(id: string, o: KvCallOptions) {
    return this.run(async () => {
      const stream = await this.client.leaseClient.leaseKeepAlive(this.deadline(o));
      return new Promise<number>((resolve, reject) => {
        stream.on('data', (res) => resolve(Number(res.TTL)));
        stream.on('error', (err) => reject(mapError(err)));
        stream.on('end', () => reject(new Error('keepalive stream closed without an answer')));
        stream.write({ ID: id });
        stream.end();
      });
    });
  }

  watch(
    prefix: string,
    startRevision: string,
    onEvents: (events: WatchEvent[], revision: string) => void,
    onError: (err: Error) => void,
  ): () => void {
    let done = false;
    let stream: Awaited<ReturnType<Etcd3['watchClient']['watch']>> | null = null;
    const shut = () => {
      if (!stream) return;
      stream.end();
      stream.cancel();
    };
    const fail = (err: Error) => {
      if (done) return;
      done = true;
      shut();
      onError(err);
    };
    this.client.watchClient.watch().then(
      (s) => {
        stream = s;
        s.on('error', (err) => fail(mapError(err)));
        if (done) {
          shut();
          return;
        }
        s.on('end', () => fail(new Error('watch stream ended')));
        s.on('data', (res) => {
          if (done) return;
          if (res.canceled) {
            fail(
              new Error(
                `watch canceled by etcd: ${res.cancel_reason || `compacted at ${res.compact_revision}`}`,
              ),
            );
            return;
          }
          if (!res.events?.length) return;
          const events: WatchEvent[] = res.events.map((ev) => ({
            type: String(ev.type) === 'Delete' ? 'delete' : 'put',
            kv: toRecord(ev.kv),
          }));
          onEvents(events, String(res.header.revision));
        });
        s.write({
          create_request: {
            key: Buffer.from(prefix),
            range_end: prefixRangeEnd(prefix),
            start_revision: startRevision,
          },
        });
      },
      (err) => fail(mapError(err)),
    );
    return () => {
      done = true;
      shut();
    };
  }

  close(): void {
    this.client.close();
  }
}

export interface EtcdDcsOptions extends KvDcsOptions, EtcdClientOptions {}

export class EtcdDcs extends KvDcs {
  constructor(opts: EtcdDcsOptions) {
    super(new EtcdKv(opts), opts);
  }
}
