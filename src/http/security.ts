/**
 * REST API security, as Patroni's `RestApiServer.check_access` (reference §2.17): TLS server
 * options, then an allowlist, client-certificate and Basic-auth check for mutating endpoints.
 *
 * Convention: a route that changes anything (PATCH/PUT /config, POST /reload, /restart,
 * /reinitialize, /failover, /switchover, /failsafe, /sigterm, DELETE /restart, /switchover)
 * declares it in its route options:
 *
 *   app.post('/restart', { config: { mutating: true } }, handler)
 *
 * Only such routes are checked. GET, HEAD and OPTIONS never carry `mutating: true`: in Patroni
 * they are unauthenticated. `securityPlugin` is registered first and skips fastify's
 * encapsulation (like `fastify-plugin`), so its onRequest hook also covers routes registered
 * later in sibling plugins. The configuration is read through `ctx.config()` on every request,
 * so a reload takes effect without restarting the server (TLS options excepted: they are fixed
 * when the server is built).
 *
 * Checks, in Patroni's order:
 *  1. allowlist (`restapi.allowlist`: IPs, CIDRs, hostnames resolved once per configuration;
 *     `allowlist_include_members`: hosts of every member's api_url, resolved once per DCS view
 *     revision): the client IP must match one of them → 403 `Access is denied`;
 *  2. over https with `verify_client` optional or required, a (valid) client certificate must
 *     have been presented → 403 `client certificate required`;
 *  3. with `restapi.authentication`, the Authorization header must be exactly
 *     `Basic <base64(username:password)>`: missing → 401 `no auth header received`, otherwise
 *     → 401 `not authenticated`, both with `WWW-Authenticate: Basic realm="Patroni"`.
 */
import { timingSafeEqual } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';
import type { NodeReport } from '../cluster/report.ts';
import type { NodeConfig } from '../config/types.ts';
import type { ApiContext } from './server.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route changes state: allowlist, client certificate and Basic auth apply. */
    mutating?: boolean;
    /**
     * A pgwarden read that only an operator should see (the journal, the visualizer): the same
     * checks as a mutating route. Patroni has no such routes; its GETs stay open.
     */
    operatorOnly?: boolean;
  }
}

export interface HttpsServerOptions {
  key: Buffer;
  cert: Buffer;
  ca?: Buffer;
  requestCert: boolean;
  rejectUnauthorized: boolean;
}

function readPem(key: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`restapi.${key}: cannot read ${file}: ${(err as Error).message}`);
  }
}

/**
 * Fastify constructor options for the REST server: `https` iff `restapi.certfile` is set. The
 * key comes from `keyfile`, or from `certfile` when that one holds both. Throws an Error naming
 * the setting and the path when a file cannot be read.
 */
export function serverOptions(config: NodeConfig): Partial<FastifyServerOptions> & {
  https?: HttpsServerOptions;
} {
  const r = config.restapi;
  if (!r.certfile) return {};
  const cert = readPem('certfile', r.certfile);
  const key = r.keyfile ? readPem('keyfile', r.keyfile) : cert;
  const verify = r.verify_client ?? 'none';
  const https: HttpsServerOptions = {
    key,
    cert,
    requestCert: verify === 'optional' || verify === 'required',
    rejectUnauthorized: verify === 'required',
  };
  if (r.cafile) https.ca = readPem('cafile', r.cafile);
  return { https };
}

/**
 * New certificate, key or CA files for a running https server: new connections use them, the
 * open ones keep theirs. False when the server is not https (nothing to do).
 */
export function applyServerCertificates(server: unknown, config: NodeConfig): boolean {
  const https = serverOptions(config).https;
  const s = server as { setSecureContext?: (options: object) => void } | undefined;
  if (!https || typeof s?.setSecureContext !== 'function') return false;
  s.setSecureContext(https);
  return true;
}

export function isMutating(routeConfig: unknown): boolean {
  return (
    typeof routeConfig === 'object' &&
    routeConfig !== null &&
    (routeConfig as { mutating?: unknown }).mutating === true
  );
}

/** Whether the access checks apply: a mutating route, or an operator-only read. */
export function isGuarded(routeConfig: unknown): boolean {
  return (
    isMutating(routeConfig) ||
    (typeof routeConfig === 'object' &&
      routeConfig !== null &&
      (routeConfig as { operatorOnly?: unknown }).operatorOnly === true)
  );
}

// ----- allowlist -------------------------------------------------------------------------------

interface Net {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** `::ffff:10.0.0.1` → `10.0.0.1`; drops an IPv6 zone (`fe80::1%eth0`). */
export function normaliseIp(ip: string): string {
  let a = ip;
  const zone = a.indexOf('%');
  if (zone !== -1) a = a.slice(0, zone);
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  return m ? m[1]! : a;
}

function hostNet(ip: string): Net | null {
  const a = normaliseIp(ip);
  const v = isIP(a);
  if (v === 4) return { address: a, prefix: 32, family: 'ipv4' };
  if (v === 6) return { address: a, prefix: 128, family: 'ipv6' };
  return null;
}

/** `10.0.0.0/8`, `fd00::/64`; host bits may be set (Python's `ip_network(v, strict=False)`). */
function parseCidr(v: string): Net | null {
  const slash = v.indexOf('/');
  const address = normaliseIp(v.slice(0, slash).trim());
  const bits = v.slice(slash + 1).trim();
  if (!/^\d{1,3}$/.test(bits)) return null;
  let prefix = Number(bits);
  let family: 'ipv4' | 'ipv6';
  if (isIP(address) === 4) family = 'ipv4';
  else if (isIP(address) === 6) family = 'ipv6';
  else return null;
  // ::ffff:a.b.c.d/n normalised to a.b.c.d: the prefix counts the 96 mapped bits.
  if (family === 'ipv4' && isIP(v.slice(0, slash).trim()) === 6) prefix -= 96;
  if (prefix < 0 || prefix > (family === 'ipv4' ? 32 : 128)) return null;
  return { address, prefix, family };
}

async function resolveHost(host: string, log: (msg: string) => void): Promise<Net[]> {
  const literal = hostNet(host.replace(/^\[(.*)\]$/, '$1'));
  if (literal) return [literal];
  try {
    const addrs = await lookup(host, { all: true });
    return addrs.map((a) => hostNet(a.address)).filter((n): n is Net => n !== null);
  } catch (err) {
    log(`Failed to resolve ${host}: ${(err as Error).message}`);
    return [];
  }
}

async function resolveAllowlist(entries: readonly string[], log: (msg: string) => void): Promise<Net[]> {
  const out: Net[] = [];
  for (const raw of entries) {
    const v = String(raw).trim();
    if (v.includes('/')) {
      const net = parseCidr(v);
      if (net) out.push(net);
      else log(`Invalid value "${v}" in the allowlist`);
    } else if (v !== '') {
      out.push(...(await resolveHost(v, log)));
    }
  }
  return out;
}

async function resolveMembers(report: NodeReport, log: (msg: string) => void): Promise<Net[]> {
  const out: Net[] = [];
  for (const m of report.view?.members ?? []) {
    const apiUrl = m.data.api_url;
    if (!apiUrl) continue;
    let host: string;
    try {
      host = new URL(apiUrl).hostname;
    } catch {
      continue;
    }
    if (host) out.push(...(await resolveHost(host, log)));
  }
  return out;
}

function toBlockList(nets: readonly Net[]): BlockList {
  const list = new BlockList();
  for (const n of nets) {
    try {
      list.addSubnet(n.address, n.prefix, n.family);
    } catch {
      // unreachable for validated input; a bad entry simply matches nothing
    }
  }
  return list;
}

/** Caches a resolution under a key; concurrent requests share one lookup. */
class Cached {
  private key: string | null = null;
  private value: Promise<BlockList> | null = null;
  get(key: string, compute: () => Promise<Net[]>): Promise<BlockList> {
    if (this.key !== key || !this.value) {
      this.key = key;
      this.value = compute().then(toBlockList);
    }
    return this.value;
  }
}

// ----- the plugin ------------------------------------------------------------------------------

const REALM = 'Basic realm="Patroni"';

function deny(reply: FastifyReply, code: number, text: string): FastifyReply {
  if (code === 401) reply.header('WWW-Authenticate', REALM);
  return reply.code(code).type('text/html').send(text);
}

function authMatches(header: string, username: string, password: string): boolean {
  const expected = Buffer.from(`Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`);
  const given = Buffer.from(header, 'utf8');
  if (given.length !== expected.length) {
    timingSafeEqual(expected, expected);
    return false;
  }
  return timingSafeEqual(given, expected);
}

function hasClientCert(socket: TLSSocket): boolean {
  if (!socket.authorized) return false;
  const cert = socket.getPeerCertificate?.();
  return cert !== undefined && cert !== null && Object.keys(cert).length > 0;
}

export interface SecurityPluginOptions {
  ctx: ApiContext;
  /** Resolution failures and invalid allowlist entries (Patroni logs them and goes on). */
  log?: (msg: string) => void;
}

/** A request as the access checks read it: its socket and headers (an HTTP request or a WebSocket upgrade). */
export interface AccessRequest {
  socket: { remoteAddress?: string; encrypted?: boolean } | TLSSocket;
  headers: { authorization?: string | string[] };
}

export type Denial = { status: number; text: string } | null;

/**
 * Why access is refused (status and Patroni's text), or null when it is granted. Synchronous
 * unless an allowlist must be resolved: a refusal then goes out while Node is still parsing the
 * request, before a malformed body could make it answer 400 first.
 */
export type AccessCheck = (
  request: AccessRequest,
  /** false: the allowlist and client certificate only (a browser's WebSocket, which cannot send Basic auth, carries a token instead). */
  opts?: { basicAuth: boolean },
) => Denial | Promise<Denial>;

declare module 'fastify' {
  interface FastifyInstance {
    /** The checks of guarded routes, for requests fastify does not route (WebSocket upgrades). */
    checkAccess: AccessCheck;
  }
}

export async function securityPlugin(app: FastifyInstance, opts: SecurityPluginOptions): Promise<void> {
  const { ctx } = opts;
  const log = opts.log ?? ((msg: string) => console.error(`restapi: ${msg}`));
  const allowlistCache = new Cached();
  const membersCache = new Cached();

  const staticList = (config: NodeConfig) => {
    const entries = config.restapi.allowlist ?? [];
    return allowlistCache.get(JSON.stringify(entries), () => resolveAllowlist(entries, log));
  };
  // Resolve the configured hostnames once, when the plugin loads (later: when the list changes).
  await staticList(ctx.config());

  const allowed = async (request: AccessRequest): Promise<boolean> => {
    const r = ctx.config().restapi;
    const ip = normaliseIp(request.socket.remoteAddress ?? '');
    const family = isIP(ip);
    if (family === 0) return false;
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if ((await staticList(ctx.config())).check(ip, type)) return true;
    if (!r.allowlist_include_members) return false;
    const report = ctx.report();
    const view = report.view;
    const key = view ? `${view.revision}\0${view.members.map((m) => m.data.api_url).join('\0')}` : '';
    return (await membersCache.get(key, () => resolveMembers(report, log))).check(ip, type);
  };

  // 2. TLS client certificate, 3. Basic auth.
  const credentials = (request: AccessRequest, basicAuth: boolean): Denial => {
    const r = ctx.config().restapi;
    const socket = request.socket as TLSSocket;
    const verify = r.verify_client ?? 'none';
    if (socket.encrypted && (verify === 'optional' || verify === 'required') && !hasClientCert(socket)) {
      return { status: 403, text: 'client certificate required' };
    }
    const auth = r.authentication;
    if (auth && basicAuth) {
      const header = request.headers.authorization;
      if (header === undefined) return { status: 401, text: 'no auth header received' };
      if (typeof header !== 'string' || !authMatches(header, auth.username, auth.password))
        return { status: 401, text: 'not authenticated' };
    }
    return null;
  };

  const check: AccessCheck = (request, opts = { basicAuth: true }) => {
    // 1. allowlist
    const r = ctx.config().restapi;
    if ((r.allowlist ?? []).length > 0 || r.allowlist_include_members) {
      return allowed(request).then((ok) =>
        ok ? credentials(request, opts.basicAuth) : { status: 403, text: 'Access is denied' },
      );
    }
    return credentials(request, opts.basicAuth);
  };
  app.decorate('checkAccess', check);

  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    if (!isGuarded(request.routeOptions.config)) return;
    const result = check(request);
    const denied = result instanceof Promise ? await result : result;
    if (denied) return deny(reply, denied.status, denied.text);
  });
}

// Like fastify-plugin: no encapsulation, so the hook reaches routes of sibling plugins.
Object.defineProperty(securityPlugin, Symbol.for('skip-override'), { value: true });
Object.defineProperty(securityPlugin, Symbol.for('fastify.display-name'), { value: 'pgwarden-security' });
