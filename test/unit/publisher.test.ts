import { describe, expect, it } from 'vitest';
import type { PostgresStatus } from '../../src/actors/postgres.ts';
import { memberData } from '../../src/cluster/report.ts';
import { type ClusterView, emptyClusterView } from '../../src/cluster/view.ts';
import { parseConfigText } from '../../src/config/load.ts';
import type { NodeContext } from '../../src/machines/node/index.ts';
import type { NodeCore } from '../../src/runtime/core.ts';
import { settingsFrom } from '../../src/runtime/dynamic-config.ts';
import { provideActors } from '../../src/runtime/provide.ts';
import { Publisher } from '../../src/runtime/publisher.ts';
import { member } from '../helpers/members.ts';
import { MINIMAL_CONFIG } from '../helpers/minimal-config.ts';
import { pgStatus } from '../helpers/pg-status.ts';

/** A node core whose readings the test sets; the node machine is only its snapshot's context. */
/** The same array each time, as the agent's Alarms gives until one is raised. */
const NO_ALARMS: readonly never[] = [];

/** touchMember as the test wants it answered (default: written at once). */
type Touch = (data: unknown) => Promise<boolean>;

function host(touch: Touch = async () => true) {
  const config = parseConfigText(MINIMAL_CONFIG);
  const state = {
    context: {
      pgState: 'running',
      role: 'replica',
      isLeader: false,
      dataDir: null,
      restart: { timeoutSeconds: null, requestId: null, scheduled: null },
      election: { verdict: null, failsafeActive: false },
    } as unknown as NodeContext,
    pg: pgStatus({ inRecovery: true }) as PostgresStatus | null,
    view: emptyClusterView as ClusterView | null,
    dcsLastSeen: 1 as number | null,
    settings: settingsFrom(config, null),
    config,
  };
  const touched: unknown[] = [];
  let snapshot = { context: state.context, status: 'active', matches: () => false };
  const core = {
    // The node machine's snapshot: a new one whenever its context is.
    actor: {
      getSnapshot: () => {
        if (snapshot.context !== state.context)
          snapshot = { context: state.context, status: 'active', matches: () => false };
        return snapshot;
      },
    },
    pgStatus: () => state.pg,
    view: () => state.view,
    dcsLastSeen: () => state.dcsLastSeen,
    settings: () => state.settings,
    config: () => state.config,
    closed: () => false,
    log: () => {},
    clock: { now: () => Date.parse('2026-12-05T12:00:00Z') },
    dcs: {
      touchMember: (_name: string, data: unknown) => {
        touched.push(data);
        return touch(data);
      },
    },
    params: { notLeader: () => null },
  } as unknown as NodeCore;
  return {
    state,
    touched,
    publisher: new Publisher({ ...core, provide: provideActors, alarms: () => NO_ALARMS }),
  };
}

describe('publisher: the report', () => {
  it('is the same object while nothing it is made of changed', () => {
    const { publisher } = host();
    expect(publisher.report()).toBe(publisher.report());
  });

  it('is rebuilt when any of its inputs changes, showing the new value', () => {
    const { state, publisher } = host();
    const changes: Array<[string, () => void, (r: ReturnType<Publisher['report']>) => unknown, unknown]> = [
      [
        'pgState',
        () => (state.context = { ...state.context, pgState: 'stopped' }),
        (r) => r.state,
        'stopped',
      ],
      ['role', () => (state.context = { ...state.context, role: 'master' }), (r) => r.role, 'master'],
      ['isLeader', () => (state.context = { ...state.context, isLeader: true }), (r) => r.isLeader, true],
      [
        'dataDir',
        () => {
          state.pg = null;
          state.context = { ...state.context, dataDir: { systemIdentifier: '42' } as NodeContext['dataDir'] };
        },
        (r) => r.systemIdentifier,
        '42',
      ],
      [
        'scheduled restart',
        () => {
          const scheduled = {
            published: { schedule: 'soon' },
          } as unknown as NodeContext['restart']['scheduled'];
          state.context = { ...state.context, restart: { ...state.context.restart, scheduled } };
        },
        (r) => r.scheduledRestart,
        { schedule: 'soon' },
      ],
      ['pg', () => (state.pg = pgStatus({ timeline: 7 })), (r) => r.pg?.timeline, 7],
      ['view', () => (state.view = { ...emptyClusterView, revision: '9' }), (r) => r.view?.revision, '9'],
      ['dcsLastSeen', () => (state.dcsLastSeen = 2), (r) => r.dcsLastSeen, 2],
      [
        'settings',
        () => (state.settings = { ...state.settings, synchronous_mode: true }),
        (r) => r.synchronousMode,
        true,
      ],
      ['config', () => (state.config = { ...state.config, scope: 'other' }), (r) => r.scope, 'other'],
    ];
    for (const [what, change, read, expected] of changes) {
      const before = publisher.report();
      change();
      const after = publisher.report();
      expect(after, what).not.toBe(before);
      expect(read(after), what).toEqual(expected);
    }
  });
});

describe('publisher: the member key', () => {
  it('is written when it changed or when forced, with the report as memberData shows it', async () => {
    const { state, touched, publisher } = host();
    await publisher.publish(false);
    await publisher.publish(false);
    expect(touched).toHaveLength(1);
    await publisher.publish(true);
    expect(touched).toHaveLength(2);
    // A new snapshot and a new status that change nothing in the key: nothing written.
    state.context = { ...state.context };
    state.pg = { ...state.pg! };
    await publisher.publish(false);
    expect(touched).toHaveLength(2);
    state.context = { ...state.context, pgState: 'stopped' };
    await publisher.publish(false);
    expect(touched).toHaveLength(3);
    expect(touched[2]).toEqual(memberData(publisher.report()));
  });

  // Both found by the simulator (failsafe seed 175): a leader back from an etcd outage longer
  // than the ttl never wrote its member key again, and its replicas had no one to follow.
  it('keeps a forced publish forced when it waits behind one under way', async () => {
    let release: (written: boolean) => void = () => {};
    let calls = 0;
    const { touched, publisher } = host(() => {
      calls++;
      return calls === 1 ? new Promise<boolean>((r) => (release = r)) : Promise.resolve(true);
    });
    const first = publisher.publish(false);
    // The loop's forced publish arrives while the first write waits on etcd: it must not become
    // an unforced one, which an unchanged key would skip.
    await publisher.publish(true);
    release(true);
    await first;
    expect(touched).toHaveLength(2);
  });

  it('counts a key etcd did not take as not published: the next publish writes it', async () => {
    let written = false;
    const { touched, publisher } = host(async () => written);
    await publisher.publish(false);
    written = true;
    await publisher.publish(false);
    expect(touched).toHaveLength(2);
    await publisher.publish(false);
    expect(touched).toHaveLength(2);
  });
});

describe('publisher: the leader’s slots', () => {
  it('an unwanted slot still in use is not taken as dropped: the next publication tries again', async () => {
    const { state, publisher } = host();
    state.context = { ...state.context, isLeader: true, role: 'master' } as NodeContext;
    state.pg = pgStatus({ inRecovery: false, currentLsn: 100 });
    state.view = {
      ...emptyClusterView,
      leader: { name: 'n', index: '1', session: '1' },
      members: [member('n'), member('m2')],
    };
    const given: unknown[] = [];
    const answers = [['gone_member'], []];
    const h = (publisher as unknown as { h: Record<string, unknown> }).h;
    h['pg'] = {
      syncSlots: async (plan: unknown) => {
        given.push(plan);
        return answers.shift() ?? [];
      },
    };
    h['dcs'] = { touchMember: async () => true, setStatus: async () => {} };
    h['params'] = {
      notLeader: () => null,
      synchronousStandbyNames: () => '',
      synchronousState: () => ({ names: '', inEffect: null, shown: undefined }),
    };
    await publisher.publish(false);
    expect(given).toEqual([{ physical: ['m2'], logical: [], ignore: [] }]);
    // Nothing changed, but the slot is still there: given again, and then it is gone.
    await publisher.publish(false);
    expect(given).toHaveLength(2);
    await publisher.publish(false);
    expect(given).toHaveLength(2);
  });
});
