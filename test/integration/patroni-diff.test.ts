/**
 * Differential REST test: the real Patroni 3.0.2 (Debian package `patroni`) is the oracle. A
 * two-node Patroni cluster and a two-node pgwarden cluster run side by side from the same YAML
 * (LocalCluster, each with its own etcd and scope), and both get the same sequence of requests —
 * every GET of the seed, HEAD/OPTIONS, bad methods, bad bodies for every mutating endpoint,
 * scheduled operations set and deleted, auth failures. Status, content type and body are compared
 * (JSON by key set and deterministic values, text exactly after substituting member names, scope
 * and addresses). Every difference must be in EXPECTED below, and every entry there must still
 * show and be explained in docs/patroni-differences.md: an unlisted new difference fails.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { agentArgv } from '../../bench/lib/agents.ts';
import { type ClusterNode, LocalCluster, REST_AUTH } from '../../src/local/cluster.ts';
import { dumpLogs } from '../helpers/cluster-tools.ts';
import { describeWith, osUser, program, root } from '../helpers/prerequisites.ts';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 150_000 });

type Kind = 'patroni' | 'pgwarden';
const KINDS: Kind[] = ['patroni', 'pgwarden'];
const DCS = { ttl: 10, loop_wait: 2, retry_timeout: 4 };
const DOC = join(import.meta.dirname, '../../docs/patroni-differences.md');
const AUTH = `Basic ${Buffer.from(`${REST_AUTH.username}:${REST_AUTH.password}`).toString('base64')}`;
const BAD_AUTH = `Basic ${Buffer.from(`${REST_AUTH.username}:wrong`).toString('base64')}`;

interface Side {
  kind: Kind;
  scope: string;
  dir: string;
  cluster: LocalCluster;
  leader: ClusterNode;
  replica: ClusterNode;
}

interface Names {
  leader: string;
  replica: string;
}

interface Request {
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
}

interface Answer {
  status: number;
  type: string | null;
  text: string;
  wwwAuthenticate: string | null;
}

const future = () => new Date(Date.now() + 180 * 24 * 3600_000).toISOString();

/** The sequence both clusters get, in order (later requests may depend on earlier ones). */
const REQUESTS: Request[] = [
  ...['leader', 'replica'].flatMap((on) =>
    [
      '/',
      '/primary',
      '/master',
      '/read-write',
      '/leader',
      '/replica',
      '/replica?lag=10MB',
      '/replica?tag_zone=a',
      '/read-only',
      '/standby-leader',
      '/standby_leader',
      '/health',
      '/liveness',
      '/readiness',
      '/async',
      '/sync',
      '/read-only-sync',
      '/patroni',
      '/cluster',
      '/history',
      '/config',
      '/failsafe',
      '/no/such/path',
    ].flatMap((path) =>
      ['GET', 'HEAD', 'OPTIONS'].map(
        (method): Request => ({ id: `${method} ${path} @${on}`, method, path, on: on as 'leader' }),
      ),
    ),
  ),
  { id: 'GET /metrics @leader', method: 'GET', path: '/metrics', bodyIgnored: true },
  { id: 'GET /metrics @replica', method: 'GET', path: '/metrics', on: 'replica', bodyIgnored: true },
  // Methods nobody handles.
  { id: 'PUT /patroni', method: 'PUT', path: '/patroni', body: {} },
  { id: 'DELETE /cluster', method: 'DELETE', path: '/cluster' },
  { id: 'PATCH /switchover', method: 'PATCH', path: '/switchover', body: {} },
  { id: 'POST /', method: 'POST', path: '/', body: {} },
  { id: 'POST /patroni', method: 'POST', path: '/patroni', body: {} },
  { id: 'DELETE /failover', method: 'DELETE', path: '/failover' },
  // Auth failures (restapi.authentication is the same on both).
  { id: 'POST /restart no auth', method: 'POST', path: '/restart', body: {}, auth: 'none' },
  { id: 'POST /restart bad auth', method: 'POST', path: '/restart', body: {}, auth: 'bad' },
  { id: 'PATCH /config no auth', method: 'PATCH', path: '/config', body: {}, auth: 'none' },
  { id: 'DELETE /switchover bad auth', method: 'DELETE', path: '/switchover', auth: 'bad' },
  // POST /switchover and /failover: bad bodies and refusals.
  ...['switchover', 'failover'].flatMap((a): Request[] => [
    { id: `POST /${a} invalid JSON`, method: 'POST', path: `/${a}`, body: '{"leader": ' },
    { id: `POST /${a} empty body`, method: 'POST', path: `/${a}`, body: '' },
    { id: `POST /${a} array`, method: 'POST', path: `/${a}`, body: [1] },
    { id: `POST /${a} {}`, method: 'POST', path: `/${a}`, body: {} },
    { id: `POST /${a} leader number`, method: 'POST', path: `/${a}`, body: { leader: 5, candidate: 7 } },
    {
      id: `POST /${a} unknown candidate`,
      method: 'POST',
      path: `/${a}`,
      body: (n: Names) => ({ leader: n.leader, candidate: 'nosuchnode' }),
    },
    {
      id: `POST /${a} wrong leader`,
      method: 'POST',
      path: `/${a}`,
      body: (n: Names) => ({ leader: n.replica, candidate: n.leader }),
    },
    {
      id: `POST /${a} scheduled in the past`,
      method: 'POST',
      path: `/${a}`,
      body: (n: Names) => ({
        leader: n.leader,
        candidate: n.replica,
        scheduled_at: '2020-01-01T00:00:00+00:00',
      }),
    },
    {
      id: `POST /${a} scheduled unparsable`,
      method: 'POST',
      path: `/${a}`,
      body: (n: Names) => ({ leader: n.leader, candidate: n.replica, scheduled_at: 'tomorrow at noon' }),
    },
    {
      id: `POST /${a} scheduled without timezone`,
      method: 'POST',
      path: `/${a}`,
      body: (n: Names) => ({ leader: n.leader, candidate: n.replica, scheduled_at: '2099-01-01T00:00:00' }),
    },
    {
      id: `POST /${a} scheduled without leader`,
      method: 'POST',
      path: `/${a}`,
      body: (n: Names) => ({ candidate: n.replica, scheduled_at: future() }),
    },
  ]),
  {
    id: 'POST /failover without candidate',
    method: 'POST',
    path: '/failover',
    body: (n: Names) => ({ leader: n.leader }),
  },
  {
    id: 'POST /switchover without leader',
    method: 'POST',
    path: '/switchover',
    body: (n: Names) => ({ candidate: n.replica }),
  },
  {
    id: 'POST /switchover to the current leader',
    method: 'POST',
    path: '/switchover',
    body: (n: Names) => ({ leader: n.leader, candidate: n.leader }),
  },
  // A switchover scheduled half a year ahead, shown, deleted; nothing left to delete.
  { id: 'DELETE /switchover nothing scheduled', method: 'DELETE', path: '/switchover' },
  {
    id: 'POST /switchover scheduled',
    method: 'POST',
    path: '/switchover',
    body: (n: Names) => ({ leader: n.leader, candidate: n.replica, scheduled_at: future() }),
  },
  { id: 'GET /cluster with a scheduled switchover', method: 'GET', path: '/cluster' },
  { id: 'DELETE /switchover scheduled', method: 'DELETE', path: '/switchover' },
  { id: 'DELETE /switchover again', method: 'DELETE', path: '/switchover' },
  // POST /restart: bad bodies and filters; a restart scheduled ahead, refused twice, deleted.
  { id: 'DELETE /restart nothing scheduled', method: 'DELETE', path: '/restart' },
  { id: 'POST /restart invalid JSON', method: 'POST', path: '/restart', body: 'not json' },
  { id: 'POST /restart array', method: 'POST', path: '/restart', body: [] },
  { id: 'POST /restart bad role', method: 'POST', path: '/restart', body: { role: 'leader' } },
  {
    id: 'POST /restart bad version',
    method: 'POST',
    path: '/restart',
    body: { postgres_version: 'fifteen' },
  },
  {
    id: 'POST /restart bad version format',
    method: 'POST',
    path: '/restart',
    body: { postgres_version: '15.1.2.3' },
  },
  { id: 'POST /restart bad timeout', method: 'POST', path: '/restart', body: { timeout: -5 } },
  { id: 'POST /restart unknown filter', method: 'POST', path: '/restart', body: { foo: 1 } },
  {
    id: 'POST /restart scheduled in the past',
    method: 'POST',
    path: '/restart',
    body: { schedule: '2020-01-01T00:00:00+00:00' },
  },
  { id: 'POST /restart scheduled unparsable', method: 'POST', path: '/restart', body: { schedule: 'soon' } },
  {
    id: 'POST /restart scheduled without timezone',
    method: 'POST',
    path: '/restart',
    body: { schedule: '2099-01-01 00:00' },
  },
  { id: 'POST /restart conditions unmet', method: 'POST', path: '/restart', body: { role: 'replica' } },
  { id: 'POST /restart scheduled', method: 'POST', path: '/restart', body: () => ({ schedule: future() }) },
  {
    id: 'POST /restart scheduled again',
    method: 'POST',
    path: '/restart',
    body: () => ({ schedule: future() }),
  },
  { id: 'DELETE /restart scheduled', method: 'DELETE', path: '/restart' },
  { id: 'DELETE /restart again', method: 'DELETE', path: '/restart' },
  // POST /reinitialize.
  { id: 'POST /reinitialize @leader', method: 'POST', path: '/reinitialize', body: {} },
  {
    id: 'POST /reinitialize invalid JSON @replica',
    method: 'POST',
    path: '/reinitialize',
    on: 'replica',
    body: '{',
  },
  {
    id: 'POST /reinitialize array @replica',
    method: 'POST',
    path: '/reinitialize',
    on: 'replica',
    body: [true],
  },
  // POST /reload and the endpoints pgwarden does not implement.
  { id: 'POST /reload', method: 'POST', path: '/reload' },
  { id: 'POST /sigterm', method: 'POST', path: '/sigterm', body: {} },
  { id: 'POST /failsafe', method: 'POST', path: '/failsafe', body: { name: 'x' } },
  { id: 'POST /citus', method: 'POST', path: '/citus', body: { type: 'before_demote', group: 1 } },
  // PATCH and PUT /config: bad bodies, a no-op, the same config put back, wrong types last.
  { id: 'PATCH /config invalid JSON', method: 'PATCH', path: '/config', body: '{"ttl": }' },
  { id: 'PATCH /config empty body', method: 'PATCH', path: '/config', body: '' },
  { id: 'PATCH /config array', method: 'PATCH', path: '/config', body: [] },
  { id: 'PATCH /config string', method: 'PATCH', path: '/config', body: 'x' },
  { id: 'PATCH /config {}', method: 'PATCH', path: '/config', body: {} },
  { id: 'PATCH /config same ttl', method: 'PATCH', path: '/config', body: { ttl: DCS.ttl } },
  { id: 'PUT /config invalid JSON', method: 'PUT', path: '/config', body: '[' },
  { id: 'PUT /config empty body', method: 'PUT', path: '/config', body: '' },
  { id: 'PUT /config number', method: 'PUT', path: '/config', body: 42 },
  { id: 'PATCH /config wrong type', method: 'PATCH', path: '/config', body: { loop_wait: 'often' } },
  { id: 'PATCH /config put back', method: 'PATCH', path: '/config', body: { loop_wait: DCS.loop_wait } },
  { id: 'GET /config at the end', method: 'GET', path: '/config', pauseMs: 3 * DCS.loop_wait * 1000 },
];

type Aspect = 'status' | 'type' | 'body';

/** One atomic difference: a request, an aspect, and what differs (one JSON path each). */
interface Difference {
  id: string;
  aspect: Aspect;
  detail: string;
}

/**
 * Deliberate deviations, each explained in docs/patroni-differences.md under the heading named
 * by `doc`. A rule matches differences by request id and by detail (exact text or pattern); a
 * difference no rule matches fails the test, and so does a rule that matches nothing any more.
 */
interface Deviation {
  doc: string;
  id: string | RegExp;
  aspect: Aspect;
  detail: string | RegExp;
}

const STATUS_DOC =
  /^(GET|HEAD|OPTIONS) \/(|primary|master|read-write|leader|replica(\?.*)?|read-only|standby-leader|standby_leader|health|async|sync|read-only-sync|patroni|no\/such\/path) @(leader|replica)$/;
const CLUSTER = /^GET \/cluster/;

const EXPECTED: Deviation[] = [
  // Additions to the status document (GET /patroni and every GET health check).
  {
    doc: 'The `pgwarden` object',
    id: STATUS_DOC,
    aspect: 'body',
    detail: '$: key only in pgwarden: pgwarden',
  },
  {
    doc: 'Later Patroni 3.x fields',
    id: STATUS_DOC,
    aspect: 'body',
    detail: '$: key only in pgwarden: replication_state',
  },
  {
    doc: 'Later Patroni 3.x fields',
    id: STATUS_DOC,
    aspect: 'body',
    detail: '$.patroni: key only in pgwarden: name',
  },
  { doc: 'Later Patroni 3.x fields', id: CLUSTER, aspect: 'body', detail: '$: key only in pgwarden: scope' },
  {
    doc: 'Later Patroni 3.x fields',
    id: CLUSTER,
    aspect: 'body',
    detail: /^\$\.members\[\d\]\.state: "running" vs "streaming"$/,
  },
  // HEAD and OPTIONS of the probes.
  {
    doc: 'HEAD and OPTIONS of `/liveness` and `/readiness`',
    id: /^(HEAD|OPTIONS) \/(liveness|readiness) @(leader|replica)$/,
    aspect: 'status',
    detail: '503 vs 200',
  },
  // Requests pgwarden refuses where Patroni accepts or fails later.
  {
    doc: 'Switchover to the current leader',
    id: 'POST /switchover to the current leader',
    aspect: 'status',
    detail: '503 vs 400',
  },
  {
    doc: 'Switchover to the current leader',
    id: 'POST /switchover to the current leader',
    aspect: 'body',
    detail: '"Switchover failed" vs "Switchover target and source are the same"',
  },
  {
    doc: '`PATCH /config` validates',
    id: 'PATCH /config wrong type',
    aspect: 'status',
    detail: '200 vs 400',
  },
  {
    doc: '`PATCH /config` validates',
    id: 'PATCH /config wrong type',
    aspect: 'type',
    detail: 'application/json vs text/html;charset=utf-8',
  },
  {
    doc: '`PATCH /config` validates',
    id: 'PATCH /config wrong type',
    aspect: 'body',
    detail: /^".*" vs "Bad Request: loop_wait must be a non-negative integer, got \\"often\\""$/,
  },
  // Endpoints pgwarden does not implement.
  {
    doc: '`POST /sigterm` and `POST /citus`',
    id: /^POST \/(sigterm|citus)$/,
    aspect: 'status',
    detail: /^20[02] vs 501$/,
  },
  {
    doc: '`POST /sigterm` and `POST /citus`',
    id: /^POST \/(sigterm|citus)$/,
    aspect: 'body',
    detail: /^"(shutdown scheduled|OK)" vs "Unsupported method"$/,
  },
];

const matches = (pattern: string | RegExp, text: string) =>
  typeof pattern === 'string' ? pattern === text : pattern.test(text);
const explains = (d: Deviation, x: Difference) =>
  d.aspect === x.aspect && matches(d.id, x.id) && matches(d.detail, x.detail);

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

function substitute(text: string, side: Side): string {
  const pairs: Array<[string, string]> = [
    [side.leader.apiUrl, '<leader-api>'],
    [side.replica.apiUrl, '<replica-api>'],
    [`${side.leader.host}:${side.leader.pgPort}`, '<leader-pg>'],
    [`${side.replica.host}:${side.replica.pgPort}`, '<replica-pg>'],
    [side.leader.name, '<leader>'],
    [side.replica.name, '<replica>'],
    [side.scope, '<scope>'],
  ];
  // Both clusters name their members node1, node2: swap through placeholders that cannot clash.
  let out = text;
  for (const [from, to] of pairs) out = out.split(from).join(to);
  return out;
}

/** Differences between two JSON values: key sets everywhere, deterministic values exactly. */
function jsonDiff(a: unknown, b: unknown, path: string, out: string[]): void {
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) {
      out.push(`${path}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
      return;
    }
    // Members are sorted by name; names are compared by role (<leader>, <replica>), whichever
    // node won the bootstrap in each cluster, so sort again by the substituted name.
    const byName = (xs: unknown[]) =>
      [...xs].sort((x, y) =>
        String((x as { name?: unknown })?.name).localeCompare(String((y as { name?: unknown })?.name)),
      );
    const bs = byName(b);
    for (const [i, x] of byName(a).entries()) jsonDiff(x, bs[i], `${path}[${i}]`, out);
    return;
  }
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    const onlyA = ka.filter((k) => !kb.includes(k));
    const onlyB = kb.filter((k) => !ka.includes(k));
    for (const k of onlyA) out.push(`${path}: key only in patroni: ${k}`);
    for (const k of onlyB) out.push(`${path}: key only in pgwarden: ${k}`);
    for (const k of ka.filter((x) => kb.includes(x))) {
      if (VOLATILE.has(k)) continue;
      jsonDiff((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`, out);
    }
    return;
  }
  if (a !== b) out.push(`${path}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
}

/** Python's http.server error page (`send_error`): what Patroni answers to bad bodies and methods. */
const isStdlibErrorPage = (a: Answer) =>
  a.type === 'text/html;charset=utf-8' && a.text.startsWith('<!DOCTYPE HTML');

async function send(side: Side, r: Request): Promise<Answer> {
  const node = r.on === 'replica' ? side.replica : side.leader;
  const headers: Record<string, string> = {};
  const auth = r.auth ?? 'ok';
  if (auth !== 'none') headers['authorization'] = auth === 'ok' ? AUTH : BAD_AUTH;
  const raw =
    typeof r.body === 'function' ? r.body({ leader: side.leader.name, replica: side.replica.name }) : r.body;
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

/** What differs between Patroni's and pgwarden's answer, one item per status, type, JSON path. */
function compare(r: Request, p: Answer, w: Answer, sides: Record<Kind, Side>): Difference[] {
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
  const pt = substitute(p.text, sides.patroni);
  const wt = substitute(w.text, sides.pgwarden);
  if (media(p.type) === 'application/json' && media(w.type) === 'application/json') {
    const paths: string[] = [];
    try {
      jsonDiff(JSON.parse(pt), JSON.parse(wt), '$', paths);
    } catch (err) {
      paths.push(`unparsable JSON: ${(err as Error).message}`);
    }
    for (const detail of paths) add('body', detail);
  } else if (pt !== wt) {
    add('body', `${JSON.stringify(pt.slice(0, 200))} vs ${JSON.stringify(wt.slice(0, 200))}`);
  }
  return out;
}

const needs = [
  program('/usr/bin/patroni', 'patroni'),
  program('/usr/bin/etcd', 'etcd-server'),
  program('/usr/lib/postgresql/15/bin/postgres', 'postgresql-15'),
  root('the agents run as the postgres OS user'),
  osUser('postgres'),
];

describeWith(needs, 'REST API against the real Patroni 3.0.2 (differential)', () => {
  const sides = {} as Record<Kind, Side>;
  const started: LocalCluster[] = [];
  let failed = false;

  beforeAll(async () => {
    await Promise.all(
      KINDS.map(async (kind) => {
        const scope = `diff-${kind}`;
        const dir = mkdtempSync(join(tmpdir(), `pgwarden-${scope}-`));
        const cluster = new LocalCluster({ dir, nodes: 2, scope, dcs: DCS, agentArgv: agentArgv(kind) });
        started.push(cluster);
        await cluster.init();
        await cluster.startAll();
        if (!(await cluster.waitUntilReady({ timeoutMs: 100_000 }))) {
          dumpLogs(cluster);
          throw new Error(`the ${kind} cluster was not ready within 100 s`);
        }
        const leader = cluster.nodes.find((n) => n.status?.role === 'master')!;
        const replica = cluster.nodes.find((n) => n !== leader)!;
        sides[kind] = { kind, scope, dir, cluster, leader, replica };
      }),
    );
  });

  afterAll(async () => {
    if (failed) for (const c of started) dumpLogs(c);
    await Promise.all(started.map((c) => c.stop()));
    for (const s of Object.values(sides)) rmSync(s.dir, { recursive: true, force: true });
  });

  it('answers every request as Patroni does, but for the listed deviations', async () => {
    const found: Difference[] = [];
    const ids = new Set<string>();
    for (const r of REQUESTS) {
      expect(ids.has(r.id), `duplicate id ${r.id}`).toBe(false);
      ids.add(r.id);
      if (r.pauseMs) await new Promise((res) => setTimeout(res, r.pauseMs));
      const [p, w] = await Promise.all([send(sides.patroni, r), send(sides.pgwarden, r)]);
      found.push(...compare(r, p, w, sides));
    }
    const show = (x: Difference) => `${x.id} [${x.aspect}]: ${x.detail}`;
    const unexpected = found.filter((x) => !EXPECTED.some((d) => explains(d, x))).map(show);
    const gone = EXPECTED.filter((d) => !found.some((x) => explains(d, x))).map(
      (d) => `${d.id} [${d.aspect}]: ${d.detail}`,
    );
    if (unexpected.length || gone.length) {
      failed = true;
      process.stderr.write(
        `\n--- unexpected ---\n${unexpected.join('\n')}\n--- gone ---\n${gone.join('\n')}\n`,
      );
    }
    expect(unexpected, 'differences not in EXPECTED (fix pgwarden or document them)').toEqual([]);
    expect(gone, 'EXPECTED deviations that no longer show (remove them from the table and the doc)').toEqual(
      [],
    );
  });

  it('explains every listed deviation in docs/patroni-differences.md', () => {
    const doc = readFileSync(DOC, 'utf8');
    const headings = new Set(
      doc
        .split('\n')
        .filter((l) => l.startsWith('## '))
        .map((l) => l.slice(3).trim()),
    );
    for (const d of EXPECTED) expect([...headings], `a "## ${d.doc}" section`).toContain(d.doc);
    for (const rule of ['Error pages', 'Content-Type parameters']) expect([...headings]).toContain(rule);
  });
});
