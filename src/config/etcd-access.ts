/**
 * How a client reaches etcd, from the `etcd3` section (Patroni's keys): the endpoints with their
 * scheme, the TLS files (`cacert`, `cert`, `key`) read into memory, and `username`/`password`.
 * One rule for the agent (gRPC, etcd-dcs.ts) and the CLI (the JSON gateway, etcd-gateway.ts).
 */
import { readFileSync } from 'node:fs';
import type { NodeConfig } from './types.ts';

export interface EtcdTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export interface EtcdClientOptions {
  /** `http(s)://host:port` each. */
  hosts: string[];
  /** For https endpoints: the CA to trust (else the system's) and a client certificate. */
  tls?: EtcdTls;
  auth?: { username: string; password: string };
}

/** Thrown when a file the section names cannot be read: a configuration error, said with the key. */
export class EtcdFileError extends Error {
  override name = 'EtcdFileError';
}

function readNamed(key: string, file: string | undefined): Buffer | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file);
  } catch (err) {
    throw new EtcdFileError(`etcd3.${key}: cannot read ${file}: ${(err as Error).message}`);
  }
}

export function etcdClientOptions(etcd3: NodeConfig['etcd3']): EtcdClientOptions {
  const out: EtcdClientOptions = { hosts: etcd3.hosts.map((h) => `${etcd3.protocol}://${h}`) };
  if (etcd3.protocol === 'https') {
    const tls: EtcdTls = {};
    const ca = readNamed('cacert', etcd3.cacert);
    const cert = readNamed('cert', etcd3.cert);
    const key = readNamed('key', etcd3.key);
    if (ca) tls.ca = ca;
    if (cert) tls.cert = cert;
    if (key) tls.key = key;
    out.tls = tls;
  }
  if (etcd3.username !== undefined) out.auth = { username: etcd3.username, password: etcd3.password ?? '' };
  return out;
}

/**
 * Whether etcd's JSON gateway can serve this client. Since etcd 3.3.11 and 3.4 (CVE-2018-16886)
 * the gateway refuses every request that shows a client certificate with a CommonName while etcd
 * has users enabled ("CommonName of client sending a request against gateway will be ignored"):
 * with a client certificate, only gRPC is certain to be heard (patronictl, gateway-only, is not).
 */
export function gatewayServes(access: EtcdClientOptions): boolean {
  return access.tls?.cert === undefined;
}
