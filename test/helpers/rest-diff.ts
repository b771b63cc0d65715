/**
 * The REST half of the differential test against Patroni 3.0.2 (patroni-diff.test.ts): a
 * request as both clusters get it, sending it, and comparing the two answers by status, media
 * type and body.
 */
import { REST_AUTH } from '../../src/local/cluster.ts';
import {
  type ClusterDoc,
  type Difference,
  jsonDiff,
  type Kind,
  type Names,
  type Side,
  substitute,
} from './patroni-diff.ts';

const AUTH = `Basic ${Buffer.from(`${REST_AUTH.username}:${REST_AUTH.password}`).toString('base64')}`;
const BAD_AUTH = `Basic ${Buffer.from(`${REST_AUTH.username}:wrong`).toString('base64')}`;

export interface Request {
  /** Unique: what EXPECTED's rules match. */
  id: string;
  method: string;
  path: string;
  on?: 'leader' | 'replica';
  /** A string is sent verbatim (bad JSON); anything else as JSON. */
  body?: unknown | ((n: Names) => unknown);
  /** Basic auth header: the right one (default), none, or a wrong one. */
  auth?: 'ok' | 'none' | 'bad';
  /** Compare the content type and status only (metrics: values differ by design). */
  bodyIgnored?: boolean;
  /** Wait this long first (Patroni's GET /config answers from a cache its HA loop refreshes). */
  pauseMs?: number;
  /** Wait first until GET /cluster shows this on both sides (bounded, as every wait). */
  until?: (doc: ClusterDoc) => boolean;
  /** The request changes the cluster: wait after it until both sides have settled again. */
  settles?: boolean;
  /** Values that differ by design inside the JSON body, blanked on both sides before comparing. */
  blank?: (json: unknown) => unknown;
}

export interface Answer {
  status: number;
  type: string | null;
  text: string;
  wwwAuthenticate: string | null;
}

export type Aspect = 'status' | 'type' | 'body';

/** Values that differ by design (times, positions, identifiers, addresses). */
const VOLATILE = new Set([
  'postmaster_start_time',
  'location',
  'received_location',
  'replayed_location',
  'replayed_timestamp',
  'database_system_identifier',
  'dcs_last_seen',
  'api_url',
  'conn_url',
  'host',
  'port',
  'client_addr',
  'lag',
  'schedule',
  'at',
  'scheduled_at',
]);

/** Python's http.server error page (`send_error`): what Patroni answers to bad bodies and methods. */
const isStdlibErrorPage = (a: Answer) =>
  a.type === 'text/html;charset=utf-8' && a.text.startsWith('<!DOCTYPE HTML');

export async function send(side: Side, r: Request, names: Names): Promise<Answer> {
  const node = r.on === 'replica' ? side.replica : side.leader;
  const headers: Record<string, string> = {};
  const auth = r.auth ?? 'ok';
  if (auth !== 'none') headers['authorization'] = auth === 'ok' ? AUTH : BAD_AUTH;
  const raw = typeof r.body === 'function' ? r.body(names) : r.body;
  const body = raw === undefined ? undefined : typeof raw === 'string' ? raw : JSON.stringify(raw);
  const res = await fetch(`${node.apiUrl}${r.path}`, {
    method: r.method,
    headers,
    body,
    signal: AbortSignal.timeout(40_000),
  });
  return {
    status: res.status,
    type: res.headers.get('content-type')?.replace(/\s+/g, '').toLowerCase() ?? null,
    text: r.method === 'HEAD' ? '' : await res.text(),
    wwwAuthenticate: res.headers.get('www-authenticate'),
  };
}

/**
 * What differs between Patroni's and pgwarden's answer, one item per status, type, JSON path;
 * names are substituted by the roles they had when the request was sent.
 */
export function compare(
  r: Request,
  p: Answer,
  w: Answer,
  sides: Record<Kind, Side>,
  names: Record<Kind, Names>,
): Difference[] {
  const out: Difference[] = [];
  const add = (aspect: Aspect, detail: string) => out.push({ id: r.id, aspect, detail });
  if (p.status !== w.status) add('status', `${p.status} vs ${w.status}`);
  if (p.wwwAuthenticate !== w.wwwAuthenticate)
    add('type', `WWW-Authenticate ${p.wwwAuthenticate} vs ${w.wwwAuthenticate}`);
  // Decided once (docs/patroni-differences.md, "Error pages"): where Patroni answers with
  // Python's HTML error page, pgwarden answers the same status with a plain-text message.
  if (isStdlibErrorPage(p)) {
    if (!(w.type?.startsWith('text/') && w.text.length > 0 && !w.text.startsWith('<'))) {
      add('body', `HTML error page vs ${w.type} ${JSON.stringify(w.text.slice(0, 80))}`);
    }
    return out;
  }
  // Media types are compared; parameters are not (pgwarden names the charset, and metrics the
  // Prometheus format version): docs/patroni-differences.md, "Content-Type parameters".
  const media = (t: string | null) => t?.split(';')[0] ?? null;
  if (media(p.type) !== media(w.type)) add('type', `${p.type} vs ${w.type}`);
  if (r.bodyIgnored) return out;
  const pt = substitute(p.text, sides.patroni, names.patroni);
  const wt = substitute(w.text, sides.pgwarden, names.pgwarden);
  if (media(p.type) === 'application/json' && media(w.type) === 'application/json') {
    const paths: string[] = [];
    const blank = r.blank ?? ((x: unknown) => x);
    try {
      jsonDiff(blank(JSON.parse(pt)), blank(JSON.parse(wt)), '$', paths, VOLATILE);
    } catch (err) {
      paths.push(`unparsable JSON: ${(err as Error).message}`);
    }
    for (const detail of paths) add('body', detail);
  } else if (pt !== wt) {
    add('body', `${JSON.stringify(pt.slice(0, 200))} vs ${JSON.stringify(wt.slice(0, 200))}`);
  }
  return out;
}
