/**
 * Differential REST test: the real Patroni 3.0.2 (Debian package `patroni`) is the oracle. A
 * two-node Patroni cluster and a two-node pgwarden cluster run side by side from the same YAML
 * (LocalCluster, each with its own etcd and scope; test/helpers/patroni-diff.ts), and both get
 * the same sequence of requests — every GET of the seed, HEAD/OPTIONS, bad methods, bad bodies
 * for every mutating endpoint, scheduled operations set and deleted, auth failures, then the
 * requests that succeed and change the cluster (a switchover and a failover back, restarts,
 * reload, reinitialize, PATCH and PUT /config), each waited for until both clusters settle.
 * Status, content type and body are compared (JSON by key set and deterministic values, text
 * exactly after substituting member names, scope and addresses). Every difference must be in
 * EXPECTED below, and every entry there must still show and be explained in
 * docs/patroni-differences.md: an unlisted new difference fails.
 */
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { sleep } from '../helpers/cluster-tools.ts';
import {
  type ClusterDoc,
  DCS,
  type Deviation,
  type Difference,
  dateShape,
  docHeadings,
  KINDS,
  type Kind,
  type Names,
  NEEDS,
  namesOf,
  type Side,
  settleBoth,
  startSides,
  verdict,
  waitUntil,
} from '../helpers/patroni-diff.ts';
import { describeWith } from '../helpers/prerequisites.ts';
import { compare, type Request, send } from '../helpers/rest-diff.ts';

vi.setConfig({ testTimeout: 300_000, hookTimeout: 150_000 });

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

/** GET /history lines: [timeline, LSN, reason, timestamp, new leader]; the LSN and the instant differ. */
const blankHistory = (json: unknown) =>
  Array.isArray(json)
    ? json.map((l) => (Array.isArray(l) ? [l[0], '<lsn>', l[2], dateShape(String(l[3])), l[4]] : l))
    : json;

/** The dynamic configuration PUT /config replaces the whole document with. */
const PUT_CONFIG = {
  ...DCS,
  maximum_lag_on_failover: 2097152,
  postgresql: { use_pg_rewind: true, use_slots: true },
};

const scheduledRestartOn = (name: 'replica') => (doc: ClusterDoc) =>
  doc.members.some((m) => m.role === name && m.scheduled_restart !== undefined);
/** Which members (by role) wait for a restart to apply their settings. */
const pendingOn =
  (...roles: string[]) =>
  (doc: ClusterDoc) =>
    doc.members.every((m) => Boolean(m.pending_restart) === roles.includes(m.role));
const MAX_CONNECTIONS = (value: number | null) => ({
  postgresql: { parameters: { max_connections: value } },
});

/**
 * Requests that succeed and change the cluster, after REQUESTS. Those marked `settles` are waited
 * for on both sides (one writable leader, the other node streaming, the DCS saying so) before the
 * next; member names are read by role again after each, so `<leader>` is the leader of the moment.
 */
const MUTATIONS: Request[] = [
  {
    id: 'POST /switchover to the replica',
    method: 'POST',
    path: '/switchover',
    body: (n: Names) => ({ leader: n.leader, candidate: n.replica }),
    settles: true,
  },
  {
    id: 'POST /failover back to the old leader',
    method: 'POST',
    path: '/failover',
    body: (n: Names) => ({ candidate: n.replica }),
    settles: true,
  },
  { id: 'GET /history after both', method: 'GET', path: '/history', blank: blankHistory },
  { id: 'POST /restart @leader', method: 'POST', path: '/restart', body: {}, settles: true },
  {
    id: 'POST /restart role replica @replica',
    method: 'POST',
    path: '/restart',
    on: 'replica',
    body: { role: 'replica' },
    settles: true,
  },
  {
    id: 'POST /restart version not newer',
    method: 'POST',
    path: '/restart',
    body: { postgres_version: '10.0' },
  },
  {
    id: 'POST /restart role primary @replica',
    method: 'POST',
    path: '/restart',
    on: 'replica',
    body: { role: 'primary' },
  },
  { id: 'POST /restart nothing pending', method: 'POST', path: '/restart', body: { restart_pending: true } },
  { id: 'POST /reload @replica', method: 'POST', path: '/reload', on: 'replica' },
  {
    id: 'POST /reinitialize @replica',
    method: 'POST',
    path: '/reinitialize',
    on: 'replica',
    body: {},
    settles: true,
  },
  {
    id: 'PATCH /config maximum_lag_on_failover',
    method: 'PATCH',
    path: '/config',
    body: { maximum_lag_on_failover: 4194304 },
  },
  { id: 'GET /config after PATCH', method: 'GET', path: '/config', pauseMs: 3 * DCS.loop_wait * 1000 },
  { id: 'PUT /config', method: 'PUT', path: '/config', body: PUT_CONFIG },
  { id: 'PUT /config the same again', method: 'PUT', path: '/config', body: PUT_CONFIG },
  { id: 'GET /config after PUT', method: 'GET', path: '/config', pauseMs: 3 * DCS.loop_wait * 1000 },
  // A setting that needs a restart: pending everywhere, restarted on the replica; taken back
  // (PATCH with null removes it), pending on the replica only, which restarts again.
  { id: 'PATCH /config max_connections', method: 'PATCH', path: '/config', body: MAX_CONNECTIONS(101) },
  ...['leader', 'replica'].map(
    (on): Request => ({
      id: `GET /patroni @${on}, restart pending`,
      method: 'GET',
      path: '/patroni',
      on: on as 'leader',
      until: pendingOn('leader', 'replica'),
    }),
  ),
  { id: 'GET /cluster restarts pending', method: 'GET', path: '/cluster' },
  {
    id: 'POST /restart pending @replica',
    method: 'POST',
    path: '/restart',
    on: 'replica',
    body: { restart_pending: true },
    settles: true,
  },
  { id: 'PATCH /config max_connections null', method: 'PATCH', path: '/config', body: MAX_CONNECTIONS(null) },
  {
    id: 'GET /cluster restart pending on the replica',
    method: 'GET',
    path: '/cluster',
    until: pendingOn('replica'),
  },
  {
    id: 'POST /restart pending @leader, nothing pending',
    method: 'POST',
    path: '/restart',
    body: { restart_pending: true },
  },
  {
    id: 'POST /restart pending @replica again',
    method: 'POST',
    path: '/restart',
    on: 'replica',
    body: { restart_pending: true },
    settles: true,
  },
  // Maintenance mode: the status document and the health checks, and what is refused meanwhile.
  { id: 'PATCH /config pause', method: 'PATCH', path: '/config', body: { pause: true } },
  ...['leader', 'replica'].flatMap((on) =>
    ['/patroni', '/primary', '/replica', '/read-only', '/health', '/liveness', '/readiness'].map(
      (path, i): Request => ({
        id: `GET ${path} @${on}, paused`,
        method: 'GET',
        path,
        on: on as 'leader',
        // Every member takes the pause on its next loop.
        pauseMs: on === 'leader' && i === 0 ? 3 * DCS.loop_wait * 1000 : 0,
      }),
    ),
  ),
  { id: 'GET /cluster paused', method: 'GET', path: '/cluster' },
  {
    id: 'POST /switchover paused without candidate',
    method: 'POST',
    path: '/switchover',
    body: (n: Names) => ({ leader: n.leader }),
  },
  {
    id: 'POST /switchover scheduled while paused',
    method: 'POST',
    path: '/switchover',
    body: (n: Names) => ({ leader: n.leader, candidate: n.replica, scheduled_at: future() }),
  },
  {
    id: 'POST /restart scheduled while paused',
    method: 'POST',
    path: '/restart',
    body: () => ({ schedule: future() }),
  },
  { id: 'PATCH /config resume', method: 'PATCH', path: '/config', body: { pause: null } },
  { id: 'GET /patroni @leader, resumed', method: 'GET', path: '/patroni', pauseMs: 3 * DCS.loop_wait * 1000 },
  // Scheduled operations set and deleted: a failover, and a restart of the replica.
  {
    id: 'POST /failover scheduled',
    method: 'POST',
    path: '/failover',
    body: (n: Names) => ({ leader: n.leader, candidate: n.replica, scheduled_at: future() }),
  },
  { id: 'GET /cluster with a scheduled failover', method: 'GET', path: '/cluster' },
  { id: 'DELETE /switchover scheduled failover', method: 'DELETE', path: '/switchover' },
  {
    id: 'POST /restart scheduled @replica',
    method: 'POST',
    path: '/restart',
    on: 'replica',
    body: () => ({ schedule: future(), role: 'replica' }),
  },
  {
    id: 'GET /cluster with a scheduled restart',
    method: 'GET',
    path: '/cluster',
    until: scheduledRestartOn('replica'),
  },
  { id: 'DELETE /restart scheduled @replica', method: 'DELETE', path: '/restart', on: 'replica' },
  { id: 'DELETE /restart again @replica', method: 'DELETE', path: '/restart', on: 'replica' },
];

const STATUS_DOC =
  /^(GET|HEAD|OPTIONS) \/(|primary|master|read-write|leader|replica(\?.*)?|read-only|standby-leader|standby_leader|health|async|sync|read-only-sync|patroni|no\/such\/path) @(leader|replica)(, restart pending|, paused|, resumed)?$/;
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

describeWith(NEEDS, 'REST API against the real Patroni 3.0.2 (differential)', () => {
  let sides = {} as Record<Kind, Side>;
  let stop: (failed: boolean) => Promise<void> = async () => {};
  let failed = false;

  beforeAll(async () => {
    ({ sides, stop } = await startSides('diff'));
  });

  afterAll(async () => {
    await stop(failed);
  });

  it('answers every request as Patroni does, but for the listed deviations', async () => {
    const found: Difference[] = [];
    const ids = new Set<string>();
    try {
      for (const r of [...REQUESTS, ...MUTATIONS]) {
        expect(ids.has(r.id), `duplicate id ${r.id}`).toBe(false);
        ids.add(r.id);
        if (r.pauseMs) await sleep(r.pauseMs);
        if (r.until) await waitUntil(sides, r.until);
        const names = { patroni: namesOf(sides.patroni), pgwarden: namesOf(sides.pgwarden) };
        const [p, w] = await Promise.all(KINDS.map((k) => send(sides[k], r, names[k])));
        found.push(...compare(r, p!, w!, sides, names));
        // DIFF_DUMP=1: both answers of every request on stderr, to see what is compared.
        if (process.env['DIFF_DUMP'])
          process.stderr.write(
            `== ${r.id}\n-- patroni ${p!.status}\n${p!.text}\n-- pgwarden ${w!.status}\n${w!.text}\n`,
          );
        if (r.settles) await settleBoth(sides);
      }
    } catch (err) {
      failed = true;
      throw err;
    }
    const { unexpected, gone } = verdict(found, EXPECTED);
    if (unexpected.length || gone.length) failed = true;
    expect(unexpected, 'differences not in EXPECTED (fix pgwarden or document them)').toEqual([]);
    expect(gone, 'EXPECTED deviations that no longer show (remove them from the table and the doc)').toEqual(
      [],
    );
  });

  it('explains every listed deviation in docs/patroni-differences.md', () => {
    const headings = docHeadings();
    for (const d of EXPECTED) expect(headings, `a "## ${d.doc}" section`).toContain(d.doc);
    for (const rule of ['Error pages', 'Content-Type parameters']) expect(headings).toContain(rule);
  });
});
