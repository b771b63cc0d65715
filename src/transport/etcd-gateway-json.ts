/**
 * etcd's v3 JSON gateway documents: keys and values in base64, int64 fields as decimal strings,
 * fields at their zero value left out; to and from the `Kv` contract's shapes (etcd-keys.ts).
 */
import type { KvRecord, Txn, TxnOp, TxnResult } from './etcd-keys.ts';

export const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
export const unb64 = (s: string | undefined) => (s ? Buffer.from(s, 'base64').toString() : '');

export interface RawKv {
  key?: string;
  value?: string;
  mod_revision?: string;
  create_revision?: string;
  lease?: string;
}

export interface RawHeader {
  header?: { revision?: string };
}

export interface RawTxn extends RawHeader {
  succeeded?: boolean;
  responses?: Array<{ response_txn?: RawTxn }>;
}

/** The gateway leaves out fields at their zero value: an absent revision or lease is "0". */
export function toRecord(kv: RawKv): KvRecord {
  return {
    key: unb64(kv.key),
    value: unb64(kv.value),
    modRevision: kv.mod_revision ?? '0',
    createRevision: kv.create_revision ?? '0',
    lease: kv.lease ?? '0',
  };
}

export const revisionOf = (res: RawHeader) => res.header?.revision ?? '0';

function toOp(op: TxnOp): Record<string, unknown> {
  if ('put' in op) {
    const { key, value, lease } = op.put;
    return { request_put: { key: b64(key), value: b64(value), ...(lease ? { lease } : {}) } };
  }
  if ('delete' in op) return { request_delete_range: { key: b64(op.delete.key) } };
  return { request_txn: toTxn(op.txn) };
}

export function toTxn(txn: Txn): Record<string, unknown> {
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

export function fromTxn(res: RawTxn, revision: string): TxnResult {
  return {
    succeeded: res.succeeded === true,
    revision,
    nested: (res.responses ?? []).map((r) => (r.response_txn ? fromTxn(r.response_txn, revision) : null)),
  };
}
