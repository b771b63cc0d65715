/** The TLS options of a request to a peer (node:https, ws), read from the files the rule names. */
import { readFileSync } from 'node:fs';
import type { PeerTlsFiles } from '../config/peer-tls.ts';

export interface PeerTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized: boolean;
}

/** Reads the files (throws, naming the file, when one cannot be read). */
export function readPeerTls(files: PeerTlsFiles): PeerTls {
  const read = (what: string, file: string | undefined) => {
    if (!file) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(`cannot read ${what} ${file}: ${(err as Error).message}`);
    }
  };
  const out: PeerTls = { rejectUnauthorized: !files.insecure };
  const ca = read('the CA file', files.cafile);
  const cert = read('the certificate file', files.certfile);
  const key = read('the key file', files.keyfile);
  if (ca) out.ca = ca;
  if (cert) out.cert = cert;
  if (key) out.key = key;
  return out;
}
