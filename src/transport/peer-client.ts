/**
 * Asks other members for their status (GET <api_url>, i.e. /patroni) as Patroni peers do in
 * the leader race: 2 s timeout, no retries. Works against pgwarden and Patroni nodes alike.
 */

import type { PeerStatus } from '../cluster/eligibility.ts';
import { nofailoverOf } from '../cluster/tags.ts';
import type { ClusterView, Member } from '../cluster/view.ts';
import { peerTlsFiles } from '../config/peer-tls.ts';
import type { NodeConfig } from '../config/types.ts';
import { peerRequest } from './http-request.ts';
import { type PeerTls, readPeerTls } from './peer-tls.ts';

export interface PeerClientOptions {
  timeoutMs?: number;
  /** `user:password` for restapi.authentication. */
  basicAuth?: string;
  /** For https peers (config/peer-tls.ts); null when its files cannot be read. */
  tls?: PeerTls | null;
}

/** Per configuration (a reload makes a new one): the files are read once for all its requests. */
const tlsByConfig = new WeakMap<NodeConfig, PeerTls | null>();

/**
 * How this node reaches its peers: its own restapi.authentication, as Patroni does, and the TLS
 * files Patroni's rule names (config/peer-tls.ts). Files that cannot be read give `tls: null`:
 * no https request is sent, and the peer counts as unreachable, as it would for Patroni.
 */
export function peerClientOptions(config: NodeConfig): PeerClientOptions {
  const auth = config.restapi.authentication;
  let tls = tlsByConfig.get(config);
  if (tls === undefined) {
    try {
      tls = readPeerTls(peerTlsFiles(config.raw));
    } catch {
      tls = null;
    }
    tlsByConfig.set(config, tls);
  }
  return { ...(auth ? { basicAuth: `${auth.username}:${auth.password}` } : {}), tls };
}

/** The Authorization header this node sends its peers (HTTP and WebSocket alike), if any. */
export function peerAuthorization(opts: PeerClientOptions): string | undefined {
  return opts.basicAuth ? `Basic ${Buffer.from(opts.basicAuth).toString('base64')}` : undefined;
}

/** What the race knows of a member that did not answer (or answered nothing usable). */
export function unreachablePeer(member: Member): PeerStatus {
  return {
    name: member.name,
    reachable: false,
    inRecovery: true,
    walPosition: null,
    timeline: null,
    nofailover: nofailoverOf(member.data.tags),
    watchdogFailed: false,
  };
}

export async function fetchPeerStatus(member: Member, opts: PeerClientOptions = {}): Promise<PeerStatus> {
  const unreachable = unreachablePeer(member);
  const url = member.data.api_url;
  if (!url) return unreachable;
  const headers: Record<string, string> = {};
  const authorization = peerAuthorization(opts);
  if (authorization) headers['authorization'] = authorization;
  try {
    const res = await peerRequest(new URL(url), {
      headers,
      timeoutMs: opts.timeoutMs ?? 2000,
      tls: opts.tls,
    });
    const doc = JSON.parse(res.text) as Record<string, unknown>;
    return parsePeerDocument(member.name, doc) ?? unreachable;
  } catch {
    return unreachable;
  }
}

/** Reads the fields the race needs out of a status document; null when it has no WAL position. */
export function parsePeerDocument(name: string, doc: Record<string, unknown>): PeerStatus | null {
  const xlog = (doc['xlog'] ?? doc['wal']) as Record<string, unknown> | undefined;
  if (!xlog || typeof xlog !== 'object') return null;
  const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  const primary = 'location' in xlog;
  const wal = primary
    ? num(xlog['location'])
    : Math.max(num(xlog['received_location']) ?? 0, num(xlog['replayed_location']) ?? 0);
  const tags = (doc['tags'] ?? {}) as Record<string, unknown>;
  return {
    name,
    reachable: true,
    inRecovery: !primary,
    walPosition: wal,
    timeline: num(doc['timeline']),
    nofailover: nofailoverOf(tags),
    watchdogFailed: doc['watchdog_failed'] === true,
    // pgwarden's and later Patroni's (3.0.2 leaves it out: not known to stream).
    streaming: doc['replication_state'] === 'streaming',
  };
}

/** Every other member with an api_url, asked in parallel. */
export function probePeers(
  view: ClusterView,
  me: string,
  opts: PeerClientOptions = {},
): Promise<PeerStatus[]> {
  const others = view.members.filter((m) => m.name !== me && m.data.api_url);
  return Promise.all(others.map((m) => fetchPeerStatus(m, opts)));
}

/**
 * POST /failsafe to a member (`apiUrl` is the /failsafe key's value, `http://host:port/patroni`):
 * status and text, or null when it did not answer within `timeoutMs`.
 */
export async function postFailsafe(
  apiUrl: string,
  body: unknown,
  opts: PeerClientOptions & { timeoutMs: number },
): Promise<{ status: number; text: string } | null> {
  let url: URL;
  try {
    url = new URL(apiUrl);
  } catch {
    return null;
  }
  url.pathname = '/failsafe';
  url.search = '';
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const authorization = peerAuthorization(opts);
  if (authorization) headers['authorization'] = authorization;
  try {
    return await peerRequest(url, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
      timeoutMs: opts.timeoutMs,
      tls: opts.tls,
    });
  } catch {
    return null;
  }
}
