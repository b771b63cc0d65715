/** GET /failover-plan and GET /journal: pgwarden's own reads, on the production routes. */
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { createActor, createMachine } from 'xstate';
import { Journal } from '../../src/actors/journal.ts';
import type { NodeReport } from '../../src/cluster/report.ts';
import { emptyClusterView, type Member } from '../../src/cluster/view.ts';
import { buildApi } from '../../src/http/server.ts';
import { FakeOps } from '../helpers/fake-ops.ts';
import { makeNodeConfig } from '../helpers/pg-config.ts';

let app: FastifyInstance | null = null;
afterEach(async () => {
  await app?.close();
  app = null;
});

const config = makeNodeConfig({ name: 'pg1', pgPort: 5432, apiPort: 8008, dataDir: '/tmp/pgwarden-unused' });
const auth = `Basic ${Buffer.from(`${config.restapi.authentication!.username}:${config.restapi.authentication!.password}`).toString('base64')}`;

const member = (name: string): Member => ({
  name,
  index: '1',
  session: null,
  data: { conn_url: `postgres://${name}/postgres`, api_url: `http://${name}:8008/patroni` } as Member['data'],
});

async function api(ops: FakeOps, journal?: Journal) {
  app = await buildApi({
    report: () => ({}) as NodeReport,
    settings: () => ({ ttl: 30, loop_wait: 10 }),
    nextRun: () => 0,
    now: () => 0,
    config: () => config,
    ops,
    journal: journal ? () => ({ header: journal.headerEntry(), entries: journal.entries() }) : undefined,
  });
  return app;
}

describe('GET /failover-plan', () => {
  it('answers the plan in snake_case: candidates, why not, the data that could be lost', async () => {
    const ops = new FakeOps();
    ops.view = {
      ...emptyClusterView,
      leader: { name: 'pg1', index: '1', session: '1' } as never,
      members: [member('pg1'), member('pg2'), member('pg3')],
    };
    const peer = { reachable: true, timeline: 1, nofailover: false, watchdogFailed: false };
    ops.peers.set('pg1', { ...peer, name: 'pg1', inRecovery: false, walPosition: 5000 });
    ops.peers.set('pg2', { ...peer, name: 'pg2', inRecovery: true, walPosition: 4000 });
    ops.peers.set('pg3', { ...peer, name: 'pg3', inRecovery: true, walPosition: 4500, nofailover: true });
    const res = await (await api(ops)).inject({ method: 'GET', url: '/failover-plan' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      leader: 'pg1',
      leader_position: 5000,
      candidates: ['pg2'],
      max_data_loss_bytes: 1000,
      synchronous_mode: false,
      paused: false,
      members: [
        {
          name: 'pg1',
          role: 'leader',
          takes_over: false,
          reason: 'the leader that died',
          wal_position: 5000,
          timeline: 1,
          lag_bytes: 0,
        },
        {
          name: 'pg2',
          role: 'replica',
          takes_over: true,
          reason: 'no reachable member is ahead of me',
          wal_position: 4000,
          timeline: 1,
          lag_bytes: 1000,
        },
        {
          name: 'pg3',
          role: 'replica',
          takes_over: false,
          reason: 'tagged nofailover',
          wal_position: 4500,
          timeline: 1,
          lag_bytes: 500,
        },
      ],
    });
  });

  it('without a view of the DCS: 503', async () => {
    const res = await (await api(new FakeOps())).inject({ method: 'GET', url: '/failover-plan' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ error: 'DCS is not accessible' });
  });
});

describe('GET /ui', () => {
  it('operator-only, and off with restapi.ui: false (404, said why)', async () => {
    const ops = new FakeOps();
    let ui: boolean | undefined;
    app = await buildApi({
      report: () => ({}) as NodeReport,
      settings: () => ({ ttl: 30, loop_wait: 10 }),
      nextRun: () => 0,
      now: () => 0,
      config: () => ({ ...config, restapi: { ...config.restapi, ui } }),
      ops,
      viz: () => ({ mode: 'journal', files: [], members: [], transitions: [] }),
    });
    expect((await app.inject({ method: 'GET', url: '/ui' })).statusCode).toBe(401);
    const page = await app.inject({ method: 'GET', url: '/ui', headers: { authorization: auth } });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<script src="assets/app.js">');
    const charts = await app.inject({
      method: 'GET',
      url: '/ui/charts.json',
      headers: { authorization: auth },
    });
    expect(charts.json().map((c: { id: string }) => c.id)).toEqual(
      expect.arrayContaining(['node', 'election', 'leaderDuties', 'scheduledAction']),
    );
    ui = false;
    const off = await app.inject({ method: 'GET', url: '/ui', headers: { authorization: auth } });
    expect(off.statusCode).toBe(404);
    expect(off.json()).toEqual({ error: 'the visualizer is off (restapi.ui: false)' });
  });
});

describe('GET /journal', () => {
  function journalWithEvents(): Journal {
    let t = 1000;
    const j = new Journal({ clock: { now: () => t, setTimeout: () => 0, clearTimeout: () => {} } });
    j.header({ version: 'x', machines: 'abc', node: 'pg1', settings: {} });
    const m = createMachine({ id: 'toy', initial: 'a', states: { a: { on: { GO: 'b' } }, b: {} } });
    const actor = createActor(m, { id: 'node', inspect: (e) => j.inspect(e) }).start();
    t = 2000;
    actor.send({ type: 'GO' });
    return j;
  }

  it('operator-only: 401 without credentials', async () => {
    const res = await (await api(new FakeOps(), journalWithEvents())).inject({
      method: 'GET',
      url: '/journal',
    });
    expect(res.statusCode).toBe(401);
  });

  it('the header and the entries, ?since= inclusive (epoch ms or ISO), ?limit= the last N', async () => {
    const a = await api(new FakeOps(), journalWithEvents());
    const get = (q: string) =>
      a.inject({ method: 'GET', url: `/journal${q}`, headers: { authorization: auth } });
    const all = (await get('')).json();
    expect(all.header).toMatchObject({ kind: 'header', actor: 'pg1', event: { machines: 'abc' } });
    expect(all.entries.map((e: { what: string }) => e.what)).toEqual(['xstate.init', 'a', 'GO', 'b']);
    expect((await get('?since=2000')).json().entries.map((e: { what: string }) => e.what)).toEqual([
      'GO',
      'b',
    ]);
    expect((await get(`?since=${new Date(2000).toISOString()}`)).json().entries).toHaveLength(2);
    expect((await get('?limit=1')).json().entries.map((e: { what: string }) => e.what)).toEqual(['b']);
  });

  it('a bad since or limit: 400 with why', async () => {
    const a = await api(new FakeOps(), journalWithEvents());
    const get = (q: string) =>
      a.inject({ method: 'GET', url: `/journal${q}`, headers: { authorization: auth } });
    expect((await get('?since=yesterday')).statusCode).toBe(400);
    expect((await get('?since=yesterday')).json().error).toMatch(/since must be/);
    expect((await get('?limit=0')).json()).toEqual({ error: 'limit must be a whole number, at least 1' });
  });
});
