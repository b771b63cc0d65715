/**
 * How this node's own requests reach other members' REST APIs over https (the leader race's
 * status probe, POST /failsafe, gossip, the visualizer's streams, patronictl's commands), by
 * Patroni's rule for them (patroni/request.py): the client certificate from `ctl.certfile` and
 * `ctl.keyfile`, else `restapi.certfile` and `restapi.keyfile`; the CA from `ctl.cacert`, else
 * `restapi.cafile`; `ctl.insecure: true` skips the check of the peer's certificate.
 */
import { isDict } from './scalars.ts';

export interface PeerTlsFiles {
  cafile?: string;
  certfile?: string;
  keyfile?: string;
  insecure: boolean;
}

const str = (v: unknown): string | undefined =>
  typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined;

/** The files of a whole configuration document (YAML and `PATRONI_*` merged). */
export function peerTlsFiles(doc: Record<string, unknown>): PeerTlsFiles {
  const ctl = isDict(doc['ctl']) ? doc['ctl'] : {};
  const restapi = isDict(doc['restapi']) ? doc['restapi'] : {};
  const out: PeerTlsFiles = { insecure: ctl['insecure'] === true };
  const cafile = str(ctl['cacert']) ?? str(restapi['cafile']);
  if (cafile) out.cafile = cafile;
  const certfile = str(ctl['certfile']) ?? str(restapi['certfile']);
  if (certfile) {
    out.certfile = certfile;
    const keyfile = str(ctl['keyfile']) ?? str(restapi['keyfile']);
    if (keyfile) out.keyfile = keyfile;
  }
  return out;
}
