/**
 * Operator endpoints (reference §2.10–2.14, §2.17): POST/DELETE /switchover, POST /failover,
 * POST/DELETE /restart, POST /reload, POST /reinitialize — every check in Patroni's order with
 * its exact status and text (always `text/html`), what is written to /failover, what reaches
 * the node's Operations, and the outcome polling of an immediate switchover.
 */
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import type { PeerStatus } from '../../src/cluster/eligibility.ts';
import type { NodeReport } from '../../src/cluster/report.ts';
import { type ClusterView, emptyClusterView, type Failover, type Member } from '../../src/cluster/view.ts';
import type { NodeConfig } from '../../src/config/types.ts';
import { buildApi } from '../../src/http/server.ts';
import { FakeOps } from '../helpers/fake-ops.ts';
import { makeNodeConfig } from '../helpers/pg-config.ts';

const NOW = Date.parse('2026-11-25T20:00:00Z');
const FUTURE = '2026-11-25T21:00:00+00:00';

function member(name: string, role: 'master' | 'replica', apiUrl = `http://${name}:8008/patroni`): Member {
  return {
    name,
    index: '1',
    session: '1',
    data: {
      conn_url: `postgres://${name}:5432/postgres`,
      api_url: apiUrl,
      state: 'running',
      role,
      version: '3.0.2',
    },
  };
}

function clusterView(over: Partial<ClusterView> = {}): ClusterView {
  return {
    ...emptyClusterView,
    revision: '10',
    initialize: '7123456789012345678',
    config: { index: '2', data: { ttl: 30, loop_wait: 10 } },
    leader: { name: 'a', index: '3', session: '1' },
    members: [member('a', 'master'), member('b', 'replica'), member('c', 'replica')],
    ...over,
  };
}

const pausedView = (over: Partial<ClusterView> = {}) =>
  clusterView({ config: { index: '2', data: { ttl: 30, loop_wait: 10, pause: true } }, ...over });

function reportFor(view: ClusterView | null, over: Partial<NodeReport> = {}): NodeReport {
  return {
    name: 'a',
    scope: 'batman',
    connUrl: 'postgres://a:5432/postgres',
    apiUrl: 'http://a:8008/patroni',
    tags: {},
    state: 'running',
    role: 'master',
    pg: null,
    systemIdentifier: '7123456789012345678',
    isLeader: true,
    view,
    dcsLastSeen: null,
    paused: view?.config?.data['pause'] === true,
    synchronousMode: false,
    ...over,
  };
}

function peer(name: string, over: Partial<PeerStatus> = {}): PeerStatus {
  return {
    name,
    reachable: true,
    inRecovery: true,
    walPosition: 100,
    timeline: 2,
    nofailover: false,
    watchdogFailed: false,
    ...over,
  };
}

interface State {
  report: NodeReport;
  now: number;
  loopWait: number;
  config: NodeConfig;
  /** The node's operations: the DCS watch's views reach its waiting requests. */
  ops: FakeOps;
  /** Timers on the test's clock (`now`): they fire when advanceTo passes them. */
  timers: Array<{ at: number; fn: () => void; cancelled: boolean }>;
}

/** Moves the test's clock to `to` and fires the timers due by then, in order. */
function advanceTo(state: State, to: number): void {
  state.now = to;
  const due = state.timers.filter((t) => t.at <= to && !t.cancelled).sort((a, b) => a.at - b.at);
  state.timers = state.timers.filter((t) => !due.includes(t));
  for (const t of due) t.fn();
}

interface Harness {
  app: FastifyInstance;
  ops: FakeOps;
  state: State;
}

let app: FastifyInstance | null = null;
afterEach(async () => {
  await app?.close();
  app = null;
});

function nodeConfig(auth: boolean): NodeConfig {
  const base = makeNodeConfig({ name: 'a', pgPort: 5432, apiPort: 8008, dataDir: '/tmp/pgwarden-unused' });
  return auth ? base : { ...base, restapi: { ...base.restapi, authentication: undefined } };
}

/** The report and the fresh DCS read both show `view`; b and c answer healthy unless told otherwise. */
async function build(
  opts: { view?: ClusterView; report?: Partial<NodeReport>; auth?: boolean; healthy?: boolean } = {},
): Promise<Harness> {
  const view = opts.view ?? clusterView();
  const ops = new FakeOps();
  ops.view = view;
  if (opts.healthy !== false) for (const n of ['b', 'c']) ops.peers.set(n, peer(n));
  const state: State = {
    report: reportFor(view, opts.report),
    now: NOW,
    loopWait: 10,
    config: nodeConfig(opts.auth ?? false),
    timers: [],
    ops,
  };
  ops.clock = {
    now: () => state.now,
    setTimeout: (fn, ms) => {
      const t = { at: state.now + ms, fn, cancelled: false };
      state.timers.push(t);
      return t;
    },
    clearTimeout: (t) => {
      (t as { cancelled: boolean }).cancelled = true;
    },
  };
  app = await buildApi({
    report: () => state.report,
    settings: () => ({ ttl: 30, loop_wait: state.loopWait }),
    nextRun: () => state.now + 10_000,
    now: () => state.now,
    config: () => state.config,
    ops,
  });
  return { app, ops, state };
}

function expectText(res: LightMyRequestResponse, status: number, body: string) {
  expect({ status: res.statusCode, body: res.body }).toEqual({ status, body });
  expect(res.headers['content-type']).toBe('text/html');
}

const post = (a: FastifyInstance, url: string, body?: unknown, extra: Partial<InjectOptions> = {}) =>
  a.inject({
    method: 'POST',
    url,
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    ...extra,
  });

/** Change the report's view after `ms` (the DCS watch delivering what the HA loop did). */
function later(state: State, ms: number, change: (view: ClusterView) => Partial<ClusterView>) {
  setTimeout(() => {
    const view = state.report.view!;
    state.report = { ...state.report, view: { ...view, ...change(view) } };
    state.ops.viewChanged(state.report.view!);
  }, ms);
}

/** The HA loop's switchover as the watch shows it: `name` leads, its member key says master, /failover consumed. */
const promote = (name: string) => (v: ClusterView) => ({
  leader: { name, index: '9', session: '2' },
  members: v.members.map((m) => member(m.name, m.name === name ? 'master' : 'replica')),
  failover: null,
});

const pending = (f: Partial<Failover> = {}): Failover => ({ index: '20', leader: 'a', member: 'b', ...f });

// ---------------------------------------------------------------------------------------------
describe('POST /failover and /switchover: checks in Patroni order (§2.10)', () => {
  it('failover without a candidate → 400', async () => {
    const { app, ops } = await build();
    expectText(
      await post(app, '/failover', { leader: 'a' }),
      400,
      'Failover could be performed only to a specific candidate',
    );
    expectText(
      await post(app, '/failover', { leader: 'a', candidate: '' }),
      400,
      'Failover could be performed only to a specific candidate',
    );
    expect(ops.writes).toEqual([]);
  });

  it('switchover without a leader → 400', async () => {
    const { app, ops } = await build();
    expectText(
      await post(app, '/switchover', { candidate: 'b' }),
      400,
      'Switchover could be performed only from a specific leader',
    );
    expectText(
      await post(app, '/switchover', { leader: '', candidate: 'b', scheduled_at: 'junk' }),
      400,
      'Switchover could be performed only from a specific leader',
    );
    expect(ops.writes).toEqual([]);
  });

  it('leader == candidate → 400, for both actions, before any schedule check', async () => {
    const { app } = await build({ view: pausedView() });
    for (const url of ['/switchover', '/failover']) {
      expectText(
        await post(app, url, { leader: 'a', candidate: 'a', scheduled_at: 'junk' }),
        400,
        'Switchover target and source are the same',
      );
    }
    expectText(
      await post(app, '/switchover', { leader: 'b', member: 'b' }),
      400,
      'Switchover target and source are the same',
    );
  });

  it('scheduled failover without a leader → 400 (before the paused and timestamp checks)', async () => {
    const { app, ops } = await build({ view: pausedView() });
    expectText(
      await post(app, '/failover', { candidate: 'b', scheduled_at: 'junk' }),
      400,
      'Scheduled failover is possible only from a specific leader',
    );
    expect(ops.writes).toEqual([]);
  });

  it.each(['switchover', 'failover'])(
    'scheduled %s while paused → 400 (before the timestamp check)',
    async (action) => {
      const { app, ops } = await build({ view: pausedView() });
      for (const scheduled_at of [FUTURE, 'junk', '2020-01-01T00:00:00Z']) {
        expectText(
          await post(app, `/${action}`, { leader: 'a', candidate: 'b', scheduled_at }),
          400,
          `Can't schedule ${action} in the paused state`,
        );
      }
      expect(ops.writes).toEqual([]);
    },
  );

  it.each(['switchover', 'failover'])('%s: scheduled_at without timezone → 400', async (action) => {
    const { app, ops } = await build();
    for (const scheduled_at of ['2026-11-25T21:00:00', '2026-11-25 21:00:00', '2026-11-25T21:00']) {
      expectText(
        await post(app, `/${action}`, { leader: 'a', candidate: 'b', scheduled_at }),
        400,
        `Timezone information is mandatory for the scheduled ${action}`,
      );
    }
    expect(ops.writes).toEqual([]);
  });

  it.each(['switchover', 'failover'])('%s: scheduled_at in the past → 422', async (action) => {
    const { app, ops } = await build();
    for (const scheduled_at of [
      '2026-11-25T19:59:59Z',
      '2026-11-25T20:30:00+01:00',
      '2020-01-01T00:00:00+00:00',
    ]) {
      expectText(
        await post(app, `/${action}`, { leader: 'a', candidate: 'b', scheduled_at }),
        422,
        `Cannot schedule ${action} in the past`,
      );
    }
    expect(ops.writes).toEqual([]);
  });

  it.each(['switchover', 'failover'])('%s: unparseable scheduled_at → 422', async (action) => {
    const { app, ops } = await build();
    for (const scheduled_at of ['tomorrow', 'not a date', 12345, true, ['2026-11-25T21:00:00Z'], { at: 1 }]) {
      expectText(
        await post(app, `/${action}`, { leader: 'a', candidate: 'b', scheduled_at }),
        422,
        'Unable to parse scheduled timestamp. It should be in an unambiguous format, e.g. ISO 8601',
      );
    }
    expect(ops.writes).toEqual([]);
  });

  it('empty or null scheduled_at means "now" (Patroni: falsy)', async () => {
    const { app, ops, state } = await build({ view: clusterView({ failover: pending() }) });
    later(state, 150, promote('b'));
    expectText(
      await post(app, '/switchover', { leader: 'a', candidate: 'b', scheduled_at: '' }),
      200,
      'Successfully switched over to "b"',
    );
    expect(ops.writes).toEqual([{ key: 'failover', value: { leader: 'a', member: 'b' }, index: undefined }]);
  });

  it('paused switchover without a candidate → 400', async () => {
    const { app, ops } = await build({ view: pausedView() });
    expectText(
      await post(app, '/switchover', { leader: 'a' }),
      400,
      'Switchover is possible only to a specific candidate in a paused state',
    );
    expect(ops.writes).toEqual([]);
  });

  it('the paused state is read from the report view, as Patroni reads it (parse_bool)', async () => {
    // Patroni's Cluster.check_mode('pause') is parse_bool: "true" as a string is pause, "off" is not.
    const paused = await build({ view: clusterView({ config: { index: '2', data: { pause: 'true' } } }) });
    expectText(
      await post(paused.app, '/switchover', { leader: 'x' }),
      400,
      'Switchover is possible only to a specific candidate in a paused state',
    );
    const running = await build({ view: clusterView({ config: { index: '2', data: { pause: 'off' } } }) });
    expectText(await post(running.app, '/switchover', { leader: 'x' }), 412, 'leader name does not match');
  });

  describe('412: is_failover_possible on a fresh DCS read', () => {
    it('leader name does not match', async () => {
      const { app, ops } = await build();
      expectText(
        await post(app, '/switchover', { leader: 'x', candidate: 'b' }),
        412,
        'leader name does not match',
      );
      expectText(
        await post(app, '/failover', { leader: 'x', candidate: 'b' }),
        412,
        'leader name does not match',
      );
      expect(ops.writes).toEqual([]);
    });

    it('a leader or candidate that is not a string: falsy names none, truthy names nobody (as Python reads them)', async () => {
      const { app, ops } = await build();
      for (const url of ['/switchover', '/failover']) {
        expectText(await post(app, url, { leader: 5, candidate: 7 }), 412, 'leader name does not match');
        expectText(await post(app, url, { leader: 'a', candidate: ['b'] }), 412, 'candidate does not exists');
      }
      expectText(
        await post(app, '/switchover', { leader: {}, candidate: 'b' }),
        400,
        'Switchover could be performed only from a specific leader',
      );
      expectText(
        await post(app, '/failover', { leader: 'a', candidate: 0 }),
        400,
        'Failover could be performed only to a specific candidate',
      );
      expect(ops.writes).toEqual([]);
    });

    it('leader name does not match when the cluster has no leader', async () => {
      const { app } = await build({ view: clusterView({ leader: null }) });
      expectText(
        await post(app, '/switchover', { leader: 'a', candidate: 'b' }),
        412,
        'leader name does not match',
      );
    });

    it('uses ops.getCluster(), not the report view', async () => {
      const { app, ops } = await build();
      ops.view = clusterView({ leader: { name: 'c', index: '7', session: '3' } });
      expectText(
        await post(app, '/switchover', { leader: 'a', candidate: 'b' }),
        412,
        'leader name does not match',
      );
    });

    it('candidate does not exists', async () => {
      const { app, ops } = await build();
      expectText(
        await post(app, '/switchover', { leader: 'a', candidate: 'zz' }),
        412,
        'candidate does not exists',
      );
      expectText(await post(app, '/failover', { candidate: 'zz' }), 412, 'candidate does not exists');
      expect(ops.writes).toEqual([]);
    });

    it('candidate name does not match with sync_standby (switchover, synchronous mode)', async () => {
      const view = clusterView({ sync: { index: '5', leader: 'a', sync_standby: ['c'] } });
      const { app, ops } = await build({ view, report: { synchronousMode: true } });
      expectText(
        await post(app, '/switchover', { leader: 'a', candidate: 'b' }),
        412,
        'candidate name does not match with sync_standby',
      );
      expectText(
        await post(app, '/switchover', { leader: 'a', candidate: 'zz' }),
        412,
        'candidate name does not match with sync_standby',
      );
      expect(ops.writes).toEqual([]);
    });

    it('failover to an async candidate in synchronous mode passes the sync check', async () => {
      const view = clusterView({ sync: { index: '5', leader: 'a', sync_standby: ['c'] } });
      const { app, ops } = await build({ view, report: { synchronousMode: true }, healthy: false });
      expectText(
        await post(app, '/failover', { candidate: 'b' }),
        412,
        'failover is not possible: no good candidates have been found',
      );
      expect(ops.writes).toEqual([]);
    });

    it('/sync is ignored without synchronous mode', async () => {
      const view = clusterView({ sync: { index: '5', leader: 'a', sync_standby: ['c'] } });
      const { app, ops } = await build({ view, report: { synchronousMode: false }, healthy: false });
      expectText(
        await post(app, '/switchover', { leader: 'a', candidate: 'b' }),
        412,
        'switchover is not possible: no good candidates have been found',
      );
      expect(ops.writes).toEqual([]);
    });

    it('can not find sync_standby (no candidate, synchronous mode)', async () => {
      for (const sync of [
        null,
        { index: '5', leader: 'a', sync_standby: [] },
        { index: '5', leader: 'a', sync_standby: ['gone'] },
      ]) {
        const { app } = await build({ view: clusterView({ sync }), report: { synchronousMode: true } });
        expectText(
          await post(app, '/switchover', { leader: 'a' }),
          412,
          'switchover is not possible: can not find sync_standby',
        );
        await app.close();
      }
    });

    it('a standby cluster with its standby leader: refused (it does not hand over yet), nothing written', async () => {
      const config = { index: '2', data: { ttl: 30, standby_cluster: { host: '10.9.9.9', port: 5432 } } };
      for (const [path, body] of [
        ['/switchover', { leader: 'a' }],
        ['/failover', { candidate: 'b' }],
      ] as const) {
        const { app, ops } = await build({ view: clusterView({ config }) });
        const written: unknown[] = [];
        ops.setFailover = async (...args: unknown[]) => {
          written.push(args);
          return true;
        };
        const action = path.slice(1);
        expectText(
          await post(app, path, body),
          412,
          `${action} is not possible: a standby leader does not hand over in pgwarden yet (stop it to fail over)`,
        );
        expect(written).toEqual([]);
        await app.close();
      }
    });

    it('cluster does not have members except leader', async () => {
      const { app } = await build({ view: clusterView({ members: [member('a', 'master')] }) });
      expectText(
        await post(app, '/switchover', { leader: 'a' }),
        412,
        'switchover is not possible: cluster does not have members except leader',
      );
    });

    it('members without api_url do not count', async () => {
      const { app } = await build({
        view: clusterView({ members: [member('a', 'master'), member('b', 'replica', '')] }),
      });
      expectText(
        await post(app, '/switchover', { leader: 'a' }),
        412,
        'switchover is not possible: cluster does not have members except leader',
      );
    });

    it.each([
      ['unreachable', { reachable: false }],
      ['nofailover', { nofailover: true }],
      ['watchdog failed', { watchdogFailed: true }],
    ])('no good candidates: every candidate %s', async (_what, over) => {
      const { app, ops } = await build();
      ops.peers.set('b', peer('b', over));
      ops.peers.set('c', peer('c', over));
      expectText(
        await post(app, '/switchover', { leader: 'a' }),
        412,
        'switchover is not possible: no good candidates have been found',
      );
      expectText(
        await post(app, '/switchover', { leader: 'a', candidate: 'b' }),
        412,
        'switchover is not possible: no good candidates have been found',
      );
      expectText(
        await post(app, '/failover', { candidate: 'c' }),
        412,
        'failover is not possible: no good candidates have been found',
      );
      expect(ops.writes).toEqual([]);
    });

    it('with check_timeline (the default), a candidate on an older timeline than /history names is refused', async () => {
      const history: ClusterView['history'] = [
        [1, 100, 'no recovery target specified'],
        [2, 200, 'no recovery target specified'],
      ];
      const { app, ops } = await build({ view: clusterView({ leader: null, history }) });
      ops.peers.set('b', peer('b', { timeline: 2 }));
      ops.peers.set('c', peer('c', { timeline: 3 }));
      expectText(
        await post(app, '/failover', { candidate: 'b' }),
        412,
        "failover is not possible: candidate b is on timeline 2, older than the cluster's 3 (check_timeline)",
      );
      expect(ops.writes).toEqual([]);
    });

    // Seen on real processes: a failover asked right after a switchover named a standby still
    // between its old and new upstream — replaying timeline 1's end, its receiver not yet shown.
    // The leader's own check would refuse it (a second timeline 2): the API says so at once.
    it.each([
      ['refused: behind the leader, not streaming', {}, undefined, 412],
      ['accepted: streaming towards the new timeline', { streaming: true }, undefined, 200],
      ["accepted: check_timeline off (Patroni's rule)", {}, false, 200],
    ])('a candidate on timeline 1 under a leader on 2, %s', async (_what, over, checkTimeline, code) => {
      const leaderOn2 = { ...member('a', 'master'), data: { ...member('a', 'master').data, timeline: 2 } };
      const data = {
        ttl: 30,
        loop_wait: 10,
        ...(checkTimeline === undefined ? {} : { check_timeline: checkTimeline }),
      };
      const h = await build({
        view: clusterView({
          config: { index: '2', data },
          members: [leaderOn2, member('b', 'replica'), member('c', 'replica')],
        }),
      });
      h.ops.peers.set('b', peer('b', { timeline: 1, ...over }));
      later(h.state, 100, promote('b'));
      const res = await post(h.app, '/failover', { candidate: 'b' });
      if (code === 412) {
        expectText(
          res,
          412,
          "failover is not possible: candidate b is on timeline 1, behind the cluster's 2, and not streaming",
        );
        expect(h.ops.writes).toEqual([]);
      } else expectText(res, 200, 'Successfully failed over to "b"');
    });

    it.each([
      ['a candidate on the newest timeline', 'c', undefined],
      ["check_timeline: false (Patroni's default): the operator's choice", 'b', false],
    ])('accepted: %s', async (_what, candidate, checkTimeline) => {
      const data = {
        ttl: 30,
        loop_wait: 10,
        ...(checkTimeline === undefined ? {} : { check_timeline: checkTimeline }),
      };
      const history: ClusterView['history'] = [
        [1, 100, 'no recovery target specified'],
        [2, 200, 'no recovery target specified'],
      ];
      const h = await build({ view: clusterView({ leader: null, history, config: { index: '2', data } }) });
      h.ops.peers.set('b', peer('b', { timeline: 2 }));
      h.ops.peers.set('c', peer('c', { timeline: 3 }));
      later(h.state, 100, promote(candidate));
      expectText(
        await post(h.app, '/failover', { candidate }),
        200,
        `Successfully failed over to "${candidate}"`,
      );
    });

    it('the candidate alone is probed: a healthy other member does not help', async () => {
      const { app, ops } = await build();
      ops.peers.set('b', peer('b', { reachable: false }));
      expectText(
        await post(app, '/switchover', { leader: 'a', candidate: 'b' }),
        412,
        'switchover is not possible: no good candidates have been found',
      );
    });

    it('one good member among bad ones is enough', async () => {
      const { app, ops, state } = await build({
        view: clusterView({ failover: pending({ member: undefined }) }),
      });
      ops.peers.set('b', peer('b', { nofailover: true }));
      later(state, 150, promote('c'));
      expectText(await post(app, '/switchover', { leader: 'a' }), 200, 'Successfully switched over to "c"');
    });

    it('a scheduled request skips is_failover_possible', async () => {
      const { app, ops } = await build({ healthy: false });
      expectText(
        await post(app, '/switchover', { leader: 'a', candidate: 'zz', scheduled_at: FUTURE }),
        202,
        'Switchover scheduled',
      );
      expect(ops.writes).toHaveLength(1);
    });
  });
});

// ---------------------------------------------------------------------------------------------
describe('POST /failover and /switchover: writing /failover', () => {
  it.each([
    ['switchover', { leader: 'a', candidate: 'b' }, { leader: 'a', member: 'b' }],
    ['switchover', { leader: 'a', member: 'b' }, { leader: 'a', member: 'b' }],
    ['switchover', { leader: 'a', candidate: 'b', member: 'c' }, { leader: 'a', member: 'b' }],
    ['switchover', { leader: 'a', candidate: '', member: 'c' }, { leader: 'a', member: 'c' }],
    ['failover', { leader: 'a', candidate: 'b' }, { leader: 'a', member: 'b' }],
    ['failover', { leader: 'a', member: 'c' }, { leader: 'a', member: 'c' }],
  ] as Array<[string, Record<string, string>, Record<string, string>]>)(
    'scheduled %s %j → 202 and /failover = %j + scheduled_at',
    async (action, body, value) => {
      const { app, ops } = await build();
      const res = await post(app, `/${action}`, { ...body, scheduled_at: FUTURE });
      expectText(res, 202, `${action === 'switchover' ? 'Switchover' : 'Failover'} scheduled`);
      expect(ops.writes).toHaveLength(1);
      const w = ops.writes[0]!;
      expect(w.key).toBe('failover');
      expect(w.index).toBeUndefined();
      const { scheduled_at, ...rest } = w.value;
      expect(rest).toEqual(value);
      expect(typeof scheduled_at).toBe('string');
      expect(scheduled_at as string).toMatch(/^2026-11-25T21:00:00(\.0+)?\+00:00$/);
      expect(ops.wakes).toBe(0);
    },
  );

  it('scheduled_at keeps the offset it was given (Z as +00:00), as Python isoformat does', async () => {
    const { app, ops } = await build();
    for (const at of ['2026-11-25T23:30:00+02:00', '2026-11-25T21:30:00Z', '2026-11-25T21:30:00.000+0000']) {
      expectText(
        await post(app, '/switchover', { leader: 'a', candidate: 'b', scheduled_at: at }),
        202,
        'Switchover scheduled',
      );
    }
    expect(ops.writes.map((w) => w.value['scheduled_at'])).toEqual([
      '2026-11-25T23:30:00+02:00',
      '2026-11-25T21:30:00+00:00',
      '2026-11-25T21:30:00+00:00',
    ]);
    for (const w of ops.writes)
      expect(Date.parse(w.value['scheduled_at'] as string)).toBe(Date.parse('2026-11-25T21:30:00Z'));
  });

  // Patroni writes `scheduled_at.isoformat()`: no fraction at whole seconds (and the offset as
  // given). pgwarden writes toISOString() with `.000`, e.g. 2026-11-25T21:00:00.000+00:00.
  it('scheduled_at is written in Python isoformat (no .000 at whole seconds)', async () => {
    const { app, ops } = await build();
    await post(app, '/switchover', { leader: 'a', candidate: 'b', scheduled_at: FUTURE });
    expect(ops.writes[0]!.value).toEqual({
      leader: 'a',
      member: 'b',
      scheduled_at: '2026-11-25T21:00:00+00:00',
    });
  });

  // dateutil parses a bare date as a naive datetime → 400 Timezone mandatory. The TZ regex in
  // src/http/schedule.ts matches the "-01" day of "2030-01-01" as an offset, and JS parses a
  // bare date as UTC midnight, so the switchover is scheduled.
  it('a date without time or timezone → 400 Timezone information is mandatory', async () => {
    const { app, ops } = await build();
    expectText(
      await post(app, '/switchover', { leader: 'a', candidate: 'b', scheduled_at: '2030-01-01' }),
      400,
      'Timezone information is mandatory for the scheduled switchover',
    );
    expect(ops.writes).toEqual([]);
  });

  it.each([
    ['switchover', true],
    ['switchover', false],
    ['failover', true],
    ['failover', false],
  ])('%s write failure (scheduled: %s) → 503', async (action, scheduled) => {
    const { app, ops } = await build();
    ops.setFailover = async () => false;
    const body = { leader: 'a', candidate: 'b', ...(scheduled ? { scheduled_at: FUTURE } : {}) };
    expectText(await post(app, `/${action}`, body), 503, `failed to write ${action} key into DCS`);
    expect(ops.wakes).toBe(0);
  });

  it('a rejected write (DCS error) → 503 as well', async () => {
    const { app, ops } = await build();
    ops.setFailover = () => Promise.reject(new Error('etcd down'));
    expectText(
      await post(app, '/switchover', { leader: 'a', candidate: 'b' }),
      503,
      'failed to write switchover key into DCS',
    );
  });
});

// ---------------------------------------------------------------------------------------------
describe('POST /failover and /switchover: immediate outcome', () => {
  // The report view already holds the request (the watch delivered our write); the HA loop then
  // moves the leader or drops the request.
  async function immediate(
    action: 'switchover' | 'failover',
    body: Record<string, unknown>,
    change: (v: ClusterView) => Partial<ClusterView>,
  ) {
    const h = await build({
      view: clusterView({ failover: pending({ member: body['candidate'] as string | undefined }) }),
    });
    later(h.state, 300, change);
    const started = Date.now();
    const res = await post(h.app, `/${action}`, body);
    return { res, ops: h.ops, elapsed: Date.now() - started };
  }

  const moveTo = promote;

  it('switchover: leader becomes the candidate → 200 Successfully switched over', async () => {
    const { res, ops, elapsed } = await immediate('switchover', { leader: 'a', candidate: 'b' }, moveTo('b'));
    expectText(res, 200, 'Successfully switched over to "b"');
    expect(ops.writes).toEqual([{ key: 'failover', value: { leader: 'a', member: 'b' }, index: undefined }]);
    expect(ops.wakes).toBe(1);
    expect(elapsed).toBeGreaterThanOrEqual(290);
  });

  it('switchover: another node took over → 200 Switched over to "c" instead of "b"', async () => {
    const { res } = await immediate('switchover', { leader: 'a', candidate: 'b' }, moveTo('c'));
    expectText(res, 200, 'Switched over to "c" instead of "b"');
  });

  it('switchover without candidate: any new leader → Successfully switched over to it', async () => {
    const { res, ops } = await immediate('switchover', { leader: 'a' }, moveTo('c'));
    expectText(res, 200, 'Successfully switched over to "c"');
    expect(ops.writes).toEqual([{ key: 'failover', value: { leader: 'a' }, index: undefined }]);
  });

  it('switchover: /failover cleared, leader unchanged → 503 Switchover failed', async () => {
    const { res } = await immediate('switchover', { leader: 'a', candidate: 'b' }, () => ({
      failover: null,
    }));
    expectText(res, 503, 'Switchover failed');
  });

  it('switchover: /failover emptied to {} (no leader, no member) → 503 Switchover failed', async () => {
    const { res } = await immediate('switchover', { leader: 'a', candidate: 'b' }, () => ({
      failover: { index: '21' },
    }));
    expectText(res, 503, 'Switchover failed');
  });

  it('no leader for a while (old one released the lock), then the candidate → success', async () => {
    const h = await build({ view: clusterView({ failover: pending() }) });
    later(h.state, 150, () => ({ leader: null }));
    later(h.state, 400, moveTo('b'));
    expectText(
      await post(h.app, '/switchover', { leader: 'a', candidate: 'b' }),
      200,
      'Successfully switched over to "b"',
    );
  });

  it('failover: leader becomes the candidate → 200 Successfully failed over', async () => {
    const { res, ops } = await immediate('failover', { candidate: 'b' }, moveTo('b'));
    expectText(res, 200, 'Successfully failed over to "b"');
    expect(ops.writes).toEqual([{ key: 'failover', value: { member: 'b' }, index: undefined }]);
    expect(ops.wakes).toBe(1);
  });

  it('failover: another node → 200 Failed over to "c" instead of "b"', async () => {
    const { res } = await immediate('failover', { candidate: 'b' }, moveTo('c'));
    expectText(res, 200, 'Failed over to "c" instead of "b"');
  });

  it('failover: /failover cleared, leader unchanged → 503 Failover failed', async () => {
    const { res } = await immediate('failover', { candidate: 'b' }, () => ({ failover: null }));
    expectText(res, 503, 'Failover failed');
  });

  it('paused switchover with a candidate proceeds', async () => {
    const h = await build({ view: pausedView({ failover: pending() }) });
    later(h.state, 150, moveTo('b'));
    expectText(
      await post(h.app, '/switchover', { leader: 'a', candidate: 'b' }),
      200,
      'Successfully switched over to "b"',
    );
  });

  it('nothing happens for 2*max(10, loop_wait) s → 503 Switchover status unknown', async () => {
    const h = await build({ view: clusterView({ failover: pending() }) });
    let done = false;
    const req = post(h.app, '/switchover', { leader: 'a', candidate: 'b' }).finally(() => {
      done = true;
    });
    await new Promise((r) => setTimeout(r, 250));
    advanceTo(h.state, NOW + 19_900); // just before the 20 s deadline
    await new Promise((r) => setTimeout(r, 250));
    expect(done).toBe(false);
    advanceTo(h.state, NOW + 20_000);
    expectText(await req, 503, 'Switchover status unknown');
  });

  it('the deadline follows loop_wait when it is above 10 s (failover: status unknown)', async () => {
    const h = await build({ view: clusterView({ failover: pending({ leader: undefined }) }) });
    h.state.loopWait = 15;
    let done = false;
    const req = post(h.app, '/failover', { candidate: 'b' }).finally(() => {
      done = true;
    });
    await new Promise((r) => setTimeout(r, 250));
    advanceTo(h.state, NOW + 25_000); // past 20 s, before 30 s
    await new Promise((r) => setTimeout(r, 250));
    expect(done).toBe(false);
    advanceTo(h.state, NOW + 30_000);
    expectText(await req, 503, 'Failover status unknown');
  });

  // Patroni polls a fresh get_cluster() after its write, so it always sees its own /failover key.
  // pgwarden polls the watch-fed report view: a view that does not show the request yet must not
  // be read as "the request was dropped".
  it('a watch lagging behind the /failover write is not taken for a failed switchover', async () => {
    const h = await build(); // the report view does not show the request yet
    later(h.state, 250, () => ({ failover: pending() }));
    later(h.state, 500, moveTo('b'));
    expectText(
      await post(h.app, '/switchover', { leader: 'a', candidate: 'b' }),
      200,
      'Successfully switched over to "b"',
    );
  });

  // Seen on a real cluster: POST /failover naming the current leader. The leader cleared the
  // request 24 ms after it was written, no poll ever saw it, and the answer came after 20 s as
  // "status unknown"; Patroni 3.0.2 answers "Failover failed" after its first look, 1 s later.
  it('a request cleared before any poll saw it: 503 failed a second after the write', async () => {
    const h = await build(); // the request is never seen: written and cleared in between polls
    h.ops.peers.set('a', peer('a')); // the leader answers its own REST, as Patroni's does
    let done = false;
    const req = post(h.app, '/failover', { candidate: 'a' }).finally(() => {
      done = true;
    });
    await new Promise((r) => setTimeout(r, 250));
    advanceTo(h.state, NOW + 900);
    await new Promise((r) => setTimeout(r, 250));
    expect(done).toBe(false);
    advanceTo(h.state, NOW + 1000);
    expectText(await req, 503, 'Failover failed');
  });

  it('the new leader counts once its member key says master (not merely holding the key)', async () => {
    const h = await build({ view: clusterView({ failover: pending() }) });
    let done = false;
    const req = post(h.app, '/switchover', { leader: 'a', candidate: 'b' }).finally(() => {
      done = true;
    });
    later(h.state, 150, () => ({ leader: { name: 'b', index: '9', session: '2' }, failover: null }));
    await new Promise((r) => setTimeout(r, 450));
    expect(done).toBe(false);
    later(h.state, 0, moveTo('b'));
    expectText(await req, 200, 'Successfully switched over to "b"');
  });
});

// ---------------------------------------------------------------------------------------------
describe('DELETE /switchover (§2.11)', () => {
  it('a scheduled switchover → CAS write {} with its index → 200', async () => {
    const { app, ops } = await build();
    ops.view = clusterView({ failover: pending({ index: '42', scheduled_at: FUTURE }) });
    expectText(
      await app.inject({ method: 'DELETE', url: '/switchover' }),
      200,
      'scheduled switchover deleted',
    );
    expect(ops.writes).toEqual([{ key: 'failover', value: {}, index: '42' }]);
  });

  it('CAS failure → 409', async () => {
    const { app, ops } = await build();
    ops.view = clusterView({ failover: pending({ index: '42', scheduled_at: FUTURE }) });
    ops.casFails = true;
    expectText(await app.inject({ method: 'DELETE', url: '/switchover' }), 409, 'Conflict');
    expect(ops.writes).toEqual([]);
  });

  it('nothing scheduled (no key, or an immediate request) → 404', async () => {
    for (const failover of [null, pending()]) {
      const { app, ops } = await build();
      ops.view = clusterView({ failover });
      expectText(
        await app.inject({ method: 'DELETE', url: '/switchover' }),
        404,
        'no switchover is scheduled',
      );
      expect(ops.writes).toEqual([]);
      await app.close();
    }
  });

  it('reads the DCS afresh, not the report view', async () => {
    const { app, ops } = await build({ view: clusterView({ failover: pending({ scheduled_at: FUTURE }) }) });
    ops.view = clusterView();
    expectText(await app.inject({ method: 'DELETE', url: '/switchover' }), 404, 'no switchover is scheduled');
  });
});

// ---------------------------------------------------------------------------------------------
describe('POST /restart (§2.12)', () => {
  it('paused + schedule → 500, before any other check', async () => {
    const { app, ops } = await build({ view: pausedView() });
    for (const body of [
      { schedule: FUTURE },
      { foo: 1, schedule: 'junk' },
      { role: 'nope', schedule: FUTURE },
    ]) {
      expectText(await post(app, '/restart', body), 500, "Can't schedule restart in the paused state");
    }
    expect(ops.restarts).toEqual([]);
  });

  it('paused without schedule → restart runs', async () => {
    const { app, ops } = await build({ view: pausedView() });
    expectText(await post(app, '/restart', { role: 'master' }), 200, 'restarted successfully');
    expect(ops.restarts).toEqual([{ role: 'master' }]);
  });

  it('schedule is parsed into a Date', async () => {
    const { app, ops } = await build();
    ops.restartResult = { status: 202, text: 'Restart scheduled' };
    expectText(
      await post(app, '/restart', { schedule: '2026-11-25T23:00:00+02:00' }),
      202,
      'Restart scheduled',
    );
    expect(ops.restarts).toEqual([{ schedule: new Date('2026-11-25T21:00:00Z') }]);
  });

  it.each([
    ['2026-11-25T21:00:00', 400, 'Timezone information is mandatory for the scheduled restart'],
    ['2026-11-25T19:00:00Z', 422, 'Cannot schedule restart in the past'],
    [
      'soon',
      422,
      'Unable to parse scheduled timestamp. It should be in an unambiguous format, e.g. ISO 8601',
    ],
    [42, 422, 'Unable to parse scheduled timestamp. It should be in an unambiguous format, e.g. ISO 8601'],
    [null, 422, 'Unable to parse scheduled timestamp. It should be in an unambiguous format, e.g. ISO 8601'],
  ])('schedule %j → %i', async (schedule, status, text) => {
    const { app, ops } = await build();
    expectText(await post(app, '/restart', { schedule }), status, text);
    expect(ops.restarts).toEqual([]);
  });

  it.each([
    ['master', 'master'],
    ['primary', 'master'],
    ['replica', 'replica'],
  ])('role %s → %s', async (role, expected) => {
    const { app, ops } = await build();
    expectText(await post(app, '/restart', { role }), 200, 'restarted successfully');
    expect(ops.restarts).toEqual([{ role: expected }]);
  });

  it.each(['standby_leader', 'Master', '', 1, null])('role %j → 400', async (role) => {
    const { app, ops } = await build();
    expectText(
      await post(app, '/restart', { role }),
      400,
      'PostgreSQL role should be either primary or replica',
    );
    expect(ops.restarts).toEqual([]);
  });

  it.each(['15.4', '9.6.24', '16.0'])('postgres_version %s is accepted and passed as text', async (v) => {
    const { app, ops } = await build();
    expectText(await post(app, '/restart', { postgres_version: v }), 200, 'restarted successfully');
    expect(ops.restarts).toEqual([{ postgres_version: v }]);
  });

  it.each([
    ['9.6', 'Invalid PostgreSQL version format: X.Y or X.Y.Z is accepted: 9.6'],
    ['15', 'Invalid PostgreSQL version format: X.Y or X.Y.Z is accepted: 15'],
    ['1.2.3.4', 'Invalid PostgreSQL version format: X.Y or X.Y.Z is accepted: 1.2.3.4'],
    // Not integers at all: Patroni's other message (postgres_version_to_int's ValueError).
    ['abc', 'Invalid PostgreSQL version: abc'],
    ['', 'Invalid PostgreSQL version: '],
  ])('postgres_version %j → 400 with the version error', async (v, message) => {
    const { app, ops } = await build();
    expectText(await post(app, '/restart', { postgres_version: v }), 400, message);
    expect(ops.restarts).toEqual([]);
  });

  it.each([
    [30, 30],
    ['30', 30],
    ['1min', 60],
    ['2 min', 120],
    ['1h', 3600],
    ['45s', 45],
  ])('timeout %j → %i s', async (timeout, seconds) => {
    const { app, ops } = await build();
    expectText(await post(app, '/restart', { timeout }), 200, 'restarted successfully');
    expect(ops.restarts).toEqual([{ timeout: seconds }]);
  });

  it.each([0, -1, 'abc', '0', '-5s', null, '', true, '10 parsecs'])('timeout %j → 400', async (timeout) => {
    const { app, ops } = await build();
    expectText(
      await post(app, '/restart', { timeout }),
      400,
      'Timeout should be a positive number of seconds',
    );
    expect(ops.restarts).toEqual([]);
  });

  // Patroni: parse_int(v, 's') — C strtol base 0 then unit conversion rounded to an integer.
  // '0x1E' is 30 s there (400 here); '500ms' rounds to 0 s → 400 there (0.5 s accepted here).
  it('timeout "0x1E" → 30 (strtol base 0)', async () => {
    const { app, ops } = await build();
    expectText(await post(app, '/restart', { timeout: '0x1E' }), 200, 'restarted successfully');
    expect(ops.restarts).toEqual([{ timeout: 30 }]);
  });

  it('timeout "500ms" → 400 (rounds to 0 s)', async () => {
    const { app, ops } = await build();
    expectText(
      await post(app, '/restart', { timeout: '500ms' }),
      400,
      'Timeout should be a positive number of seconds',
    );
    expect(ops.restarts).toEqual([]);
  });

  it.each([true, false, null, 'no'])('restart_pending %j: its presence is what matters', async (v) => {
    const { app, ops } = await build();
    expectText(await post(app, '/restart', { restart_pending: v }), 200, 'restarted successfully');
    expect(ops.restarts).toEqual([{ restart_pending: true }]);
  });

  it('unknown key → 400', async () => {
    const { app, ops } = await build();
    expectText(await post(app, '/restart', { foo: 1 }), 400, 'Unknown filter for the scheduled restart: foo');
    expect(ops.restarts).toEqual([]);
  });

  it('keys are checked in body order, stopping at the first error', async () => {
    const { app } = await build();
    expectText(
      await post(app, '/restart', { foo: 1, role: 'nope' }),
      400,
      'Unknown filter for the scheduled restart: foo',
    );
    expectText(
      await post(app, '/restart', { role: 'nope', foo: 1 }),
      400,
      'PostgreSQL role should be either primary or replica',
    );
    expectText(
      await post(app, '/restart', { timeout: 0, schedule: 'junk' }),
      400,
      'Timeout should be a positive number of seconds',
    );
    expectText(
      await post(app, '/restart', { schedule: 'junk', timeout: 0 }),
      422,
      'Unable to parse scheduled timestamp. It should be in an unambiguous format, e.g. ISO 8601',
    );
  });

  it('every filter together: the exact request reaches ops.restart', async () => {
    const { app, ops } = await build();
    ops.restartResult = { status: 202, text: 'Restart scheduled' };
    const res = await post(app, '/restart', {
      schedule: '2026-11-25T22:00:00Z',
      role: 'primary',
      postgres_version: '15.5',
      timeout: '2min',
      restart_pending: 'yes',
    });
    expectText(res, 202, 'Restart scheduled');
    expect(ops.restarts).toEqual([
      {
        schedule: new Date('2026-11-25T22:00:00Z'),
        role: 'master',
        postgres_version: '15.5',
        timeout: 120,
        restart_pending: true,
      },
    ]);
  });

  it.each([
    { status: 200, text: 'restarted successfully' },
    { status: 503, text: 'restart conditions are not satisfied' },
    { status: 503, text: 'reinitialize already in progress' },
    { status: 503, text: 'postgres is still starting' },
    { status: 409, text: 'Another restart is already scheduled' },
    { status: 400, text: 'restart failed' },
  ])('the result of ops.restart is returned verbatim: %j', async (result) => {
    const { app, ops } = await build();
    ops.restartResult = result;
    expectText(await post(app, '/restart', {}), result.status, result.text);
  });
});

describe('DELETE /restart, POST /reload, POST /reinitialize (§2.12–2.14)', () => {
  it.each([
    { status: 404, text: 'no restarts are scheduled' },
    { status: 200, text: 'scheduled restart deleted' },
  ])('DELETE /restart returns cancelScheduledRestart() verbatim: %j', async (result) => {
    const { app, ops } = await build();
    ops.cancelResult = result;
    expectText(await app.inject({ method: 'DELETE', url: '/restart' }), result.status, result.text);
  });

  it('POST /failsafe → 502 with failsafe mode off (what Patroni answers), whatever the body', async () => {
    const { app, ops } = await build();
    expectText(await post(app, '/failsafe', { name: 'a', api_url: 'http://x/patroni' }), 502, 'Bad Gateway');
    expectText(
      await app.inject({ method: 'POST', url: '/failsafe', payload: 'not json' }),
      502,
      'Bad Gateway',
    );
    expect(ops.writes).toEqual([]);
    expect(ops.failsafeCalls).toEqual([]);
  });

  it('POST /failsafe with failsafe mode on: the leader named is confirmed (or refused) by the node, the body checked first', async () => {
    const { app, ops } = await build();
    ops.failsafeOn = true;
    const body = { name: 'node1', conn_url: 'postgres://h:5432/postgres', api_url: 'http://h:8008/patroni' };
    expectText(await post(app, '/failsafe', body), 200, 'Accepted');
    expect(ops.failsafeCalls).toEqual(['node1']);
    ops.failsafeAnswer = { status: 500, text: 'Running as a leader' };
    expectText(await post(app, '/failsafe', body), 500, 'Running as a leader');
    expectText(await post(app, '/failsafe', {}), 400, 'Bad Request: empty body');
    expectText(await post(app, '/failsafe', { name: 3 }), 400, 'Bad Request: name must be a string');
    expectText(
      await app.inject({ method: 'POST', url: '/failsafe', payload: '[1]' }),
      400,
      'Bad Request: body must be a JSON object',
    );
    expect(ops.failsafeCalls).toEqual(['node1', 'node1']);
  });

  it('POST /reload → 202 reload scheduled, ops.reload called once; any body is ignored', async () => {
    const { app, ops } = await build();
    expectText(await post(app, '/reload'), 202, 'reload scheduled');
    expect(ops.reloads).toBe(1);
    expectText(
      await app.inject({ method: 'POST', url: '/reload', payload: 'not json' }),
      202,
      'reload scheduled',
    );
    expect(ops.reloads).toBe(2);
  });

  it.each([
    [true, true],
    ['true', true],
    ['on', true],
    ['ON', true],
    ['yes', true],
    [1, true],
    ['1', true],
    [false, false],
    ['off', false],
    ['no', false],
    [0, false],
    ['0', false],
    ['maybe', false],
    [null, false],
    [2, false],
    [{}, false],
  ])('POST /reinitialize force %j → %s', async (force, expected) => {
    const { app, ops } = await build();
    expectText(await post(app, '/reinitialize', { force }), 200, 'reinitialize started');
    expect(ops.reinits).toEqual([expected]);
  });

  it('POST /reinitialize without force → false; other keys are ignored', async () => {
    const { app, ops } = await build();
    expectText(await post(app, '/reinitialize', { from_leader: true }), 200, 'reinitialize started');
    expect(ops.reinits).toEqual([false]);
  });

  // Patroni's parse_bool is str(value).lower() with no strip: ' yes ' is not a boolean → False.
  it('POST /reinitialize force " yes " → false (parse_bool does not strip)', async () => {
    const { app, ops } = await build();
    await post(app, '/reinitialize', { force: ' yes ' });
    expect(ops.reinits).toEqual([false]);
  });

  it.each([
    { status: 503, text: 'Cluster has no leader, can not reinitialize' },
    { status: 503, text: 'I am the leader, can not reinitialize' },
    { status: 503, text: 'restart already in progress' },
    { status: 200, text: 'reinitialize started' },
  ])('POST /reinitialize returns ops.reinitialize() verbatim: %j', async (result) => {
    const { app, ops } = await build();
    ops.reinitResult = result;
    expectText(await post(app, '/reinitialize', { force: true }), result.status, result.text);
  });
});

// ---------------------------------------------------------------------------------------------
describe('authentication on mutating endpoints (§2.17)', () => {
  const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
  const GOOD = basic('admin', 'admin-pass');
  const mutating: Array<[string, string]> = [
    ['POST', '/switchover'],
    ['DELETE', '/switchover'],
    ['POST', '/failover'],
    ['POST', '/restart'],
    ['DELETE', '/restart'],
    ['POST', '/reload'],
    ['POST', '/reinitialize'],
    ['POST', '/failsafe'],
  ];

  function untouched(ops: FakeOps) {
    expect(ops.writes).toEqual([]);
    expect(ops.restarts).toEqual([]);
    expect(ops.reinits).toEqual([]);
    expect(ops.reloads).toBe(0);
    expect(ops.wakes).toBe(0);
  }

  it.each(mutating)('%s %s without Authorization → 401 no auth header received', async (method, url) => {
    const { app, ops } = await build({ auth: true });
    for (const payload of [
      undefined,
      '{"leader":"a","candidate":"b","scheduled_at":"2026-11-25T21:00:00Z"}',
    ]) {
      const res = await app.inject({ method: method as 'POST', url, ...(payload ? { payload } : {}) });
      expectText(res, 401, 'no auth header received');
      expect(res.headers['www-authenticate']).toBe('Basic realm="Patroni"');
    }
    untouched(ops);
  });

  it.each(mutating)('%s %s with wrong credentials → 401 not authenticated', async (method, url) => {
    const { app, ops } = await build({ auth: true });
    const res = await app.inject({
      method: method as 'POST',
      url,
      headers: { authorization: basic('admin', 'nope') },
    });
    expectText(res, 401, 'not authenticated');
    expect(res.headers['www-authenticate']).toBe('Basic realm="Patroni"');
    untouched(ops);
  });

  it('with the right credentials the endpoints answer', async () => {
    const { app, ops } = await build({ auth: true });
    const headers = { authorization: GOOD };
    expectText(await app.inject({ method: 'POST', url: '/reload', headers }), 202, 'reload scheduled');
    expectText(await app.inject({ method: 'POST', url: '/restart', headers }), 200, 'restarted successfully');
    expectText(
      await app.inject({ method: 'POST', url: '/reinitialize', headers }),
      200,
      'reinitialize started',
    );
    expectText(
      await app.inject({ method: 'DELETE', url: '/restart', headers }),
      404,
      'no restarts are scheduled',
    );
    expectText(
      await app.inject({ method: 'DELETE', url: '/switchover', headers }),
      404,
      'no switchover is scheduled',
    );
    expectText(await app.inject({ method: 'POST', url: '/failover', headers }), 411, 'Length Required');
    expectText(
      await app.inject({
        method: 'POST',
        url: '/switchover',
        headers,
        payload: JSON.stringify({ leader: 'a', candidate: 'b', scheduled_at: FUTURE }),
      }),
      202,
      'Switchover scheduled',
    );
    expect(ops.reloads).toBe(1);
  });

  it.each(['/patroni', '/cluster', '/history', '/config', '/health', '/liveness', '/readiness', '/'])(
    'GET %s stays open',
    async (url) => {
      const { app } = await build({ auth: true });
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode).not.toBe(401);
      expect(res.statusCode).not.toBe(403);
    },
  );
});
