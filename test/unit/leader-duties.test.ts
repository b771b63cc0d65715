import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { notRunningStatus, type PostgresStatus } from '../../src/cluster/postgres-state.ts';
import { type ClusterView, emptyClusterView, type Member } from '../../src/cluster/view.ts';
import {
  type LeaderDutiesEvent,
  type LeaderFacts,
  leaderDutiesMachine,
  type PublishEvent,
  publicationChangesNothing,
  publicationMatters,
} from '../../src/machines/leader-duties.ts';

const primary = (lsn: number): PostgresStatus => ({
  ...notRunningStatus(),
  running: true,
  currentLsn: lsn,
  synchronousStandbyNames: '',
});
const replica: PostgresStatus = { ...notRunningStatus(), running: true, inRecovery: true };

const member = (name: string): Member => ({
  name,
  index: '1',
  session: null,
  data: { state: 'running', role: 'replica' } as Member['data'],
});
const viewOf = (...names: string[]): ClusterView => ({
  ...emptyClusterView,
  leader: { name: 'node1', index: '1', session: '1' },
  members: names.map(member),
});

const asyncMode = { synchronous_mode: false, synchronous_mode_strict: false, synchronous_node_count: 1 };
const syncMode = { ...asyncMode, synchronous_mode: true };
/** A plan of physical slots only (no permanent logical slot, nothing ignored). */
const plan = (physical: string[]) => ({ physical, logical: [], ignore: [] });
const facts = (over: Partial<LeaderFacts> = {}): LeaderFacts => ({
  view: viewOf('node1', 'node2'),
  synchronous: { names: '', inEffect: null, shown: undefined },
  useSlots: true,
  sync: asyncMode,
  ...over,
});

function start() {
  const actor = createActor(leaderDutiesMachine, { input: { me: 'node1' } }).start();
  const send = (e: LeaderDutiesEvent) => actor.send(e);
  return {
    order: () => actor.getSnapshot().context.order,
    idle: () => actor.getSnapshot().matches('idle'),
    snapshot: () => actor.getSnapshot(),
    publish: (
      status: PostgresStatus | null,
      over: Partial<LeaderFacts> = {},
      isLeader = true,
      force = false,
    ) => send({ type: 'PUBLISH', isLeader, status, force, ...facts(over) }),
    done: (over: Partial<LeaderFacts> = {}, slotsBusy = false) =>
      send({ type: 'DONE', slotsBusy, ...facts(over) }),
    failed: () => send({ type: 'FAILED' }),
  };
}

describe('leader duties machine', () => {
  it('a running standby keeps the slots of the members that replicate from it; a forced publication alone asks nothing', () => {
    const m = start();
    const cascading = (...names: string[]): ClusterView => ({
      ...emptyClusterView,
      leader: { name: 'node2', index: '1', session: '1' },
      members: [
        member('node1'),
        member('node2'),
        ...names.map((n) => ({
          ...member(n),
          data: { ...member(n).data, tags: { replicatefrom: 'node1' } },
        })),
      ],
    });
    m.publish(replica, { view: cascading('node3') }, false);
    expect(m.order()).toEqual({ kind: 'giveSlots', slots: plan(['node3']) });
    m.done({ view: cascading('node3') });
    expect(m.order()).toEqual({ kind: 'none' });
    expect(m.idle()).toBe(true);
    m.publish(replica, { view: cascading('node3') }, false, true);
    expect(m.order()).toEqual({ kind: 'none' });
    // node3 goes: its slot goes too.
    m.publish(replica, { view: cascading() }, false);
    expect(m.order()).toEqual({ kind: 'giveSlots', slots: plan([]) });
    // use_slots off, or not running: no slot duty.
    m.done({ view: cascading() });
    m.publish(replica, { view: cascading('node4'), useSlots: false }, false);
    expect(m.order()).toEqual({ kind: 'none' });
    m.publish(notRunningStatus(), { view: cascading('node4') }, false);
    expect(m.order()).toEqual({ kind: 'none' });
  });

  it('a node that is not the leader only lets its synchronous standbys go', () => {
    const m = start();
    m.publish(replica, { synchronous: { names: 'node3', inEffect: null, shown: undefined } }, false);
    expect(m.order()).toEqual({ kind: 'dropStandbys' });
    expect(m.idle()).toBe(true);
    m.publish(replica, {}, false); // naming nobody: nothing to let go
    expect(m.order()).toEqual({ kind: 'none' });
  });

  it('a leader whose PostgreSQL is not writable yet has no duty; nor one without a view', () => {
    const m = start();
    m.publish(replica);
    expect(m.order()).toEqual({ kind: 'none' });
    m.publish(primary(5), { view: null });
    expect(m.order()).toEqual({ kind: 'none' });
    expect(m.idle()).toBe(true);
  });

  it('the writable leader: /status, then the slots, then synchronous replication, one at a time', () => {
    const m = start();
    m.publish(primary(100), { sync: syncMode });
    expect(m.order()).toEqual({ kind: 'writeStatus', optime: 100 });
    m.done({ sync: syncMode });
    expect(m.order()).toEqual({ kind: 'giveSlots', slots: plan(['node2']) });
    m.done({ sync: syncMode });
    // /sync does not name us yet: claimed first, with /sync's index from the view now. The last
    // duty: the machine is idle again, the next publication judges its effect.
    expect(m.order()).toMatchObject({ kind: 'sync', step: { kind: 'write-sync', standbys: [] } });
    expect(m.idle()).toBe(true);
  });

  it('writes nothing that has not changed; every publication ends with its synchronous step', () => {
    const m = start();
    m.publish(primary(100));
    m.done();
    m.done(); // slots given
    expect(m.order()).toMatchObject({ kind: 'sync', step: { kind: 'none' } });
    expect(m.idle()).toBe(true);
    m.publish(primary(100));
    expect(m.order()).toMatchObject({ kind: 'sync', step: { kind: 'none' } }); // no /status, no slots
    m.publish(primary(200));
    expect(m.order()).toEqual({ kind: 'writeStatus', optime: 200 });
  });

  it('a publication of the same facts as the last, which left it at rest, changes nothing: the publisher may leave it unsent', () => {
    const m = start();
    const at = (e: PublishEvent) => {
      const before = m.snapshot();
      const { type: _, isLeader, status, force, ...rest } = e;
      m.publish(status, rest, isLeader, force);
      return before;
    };
    const quiet: PublishEvent = {
      type: 'PUBLISH',
      isLeader: true,
      status: primary(100),
      force: false,
      ...facts(),
    };
    const { type: _, isLeader: __, status: ___, force: ____, ...same } = quiet;
    m.publish(quiet.status, same);
    m.done(same);
    m.done(same); // status written, slots given: at rest
    m.publish(quiet.status, same);
    const order = m.order();
    expect(publicationChangesNothing(quiet, { ...quiet }, order)).toBe(true);
    // Sent anyway, it would indeed change nothing: same state, same context.
    const before = at(quiet);
    expect(m.snapshot().value).toEqual(before.value);
    expect(m.snapshot().context).toEqual(before.context);
    // Anything new is sent: another sample, view or settings object, a forced publication, or a
    // last publication that left I/O to do.
    expect(publicationChangesNothing(quiet, { ...quiet, status: primary(100) }, order)).toBe(false);
    expect(publicationChangesNothing(quiet, { ...quiet, view: viewOf('node1', 'node2') }, order)).toBe(false);
    expect(publicationChangesNothing(quiet, { ...quiet, sync: { ...asyncMode } }, order)).toBe(false);
    expect(publicationChangesNothing(quiet, { ...quiet, force: true }, order)).toBe(false);
    expect(publicationChangesNothing(quiet, { ...quiet, isLeader: false }, order)).toBe(false);
    expect(publicationChangesNothing(quiet, quiet, { kind: 'writeStatus', optime: 100 })).toBe(false);
    expect(publicationChangesNothing(null, quiet, order)).toBe(false);
  });

  it('judges each step on the facts as they are after the write before it', () => {
    const m = start();
    m.publish(primary(100));
    // A member joined while /status was written: its slot is made in the same publication.
    m.done({ view: viewOf('node1', 'node2', 'node3') });
    expect(m.order()).toEqual({ kind: 'giveSlots', slots: plan(['node2', 'node3']) });
    // synchronous_mode was turned off while leading with standbys named: the guc is emptied.
    m.done({ synchronous: { names: 'node2', inEffect: null, shown: undefined } });
    expect(m.order()).toMatchObject({ kind: 'sync', step: { kind: 'set-guc', value: '' } });
  });

  it('an unwanted slot still in use: the synchronous step goes on, and the next publication gives the slots again', () => {
    const m = start();
    m.publish(primary(100), { sync: syncMode });
    m.done({ sync: syncMode });
    expect(m.order()).toEqual({ kind: 'giveSlots', slots: plan(['node2']) });
    m.done({ sync: syncMode }, true);
    expect(m.order()).toMatchObject({ kind: 'sync' });
    m.publish(primary(100), { sync: syncMode });
    expect(m.order()).toEqual({ kind: 'giveSlots', slots: plan(['node2']) });
    m.done({ sync: syncMode });
    m.publish(primary(100), { sync: syncMode });
    expect(m.order()).toMatchObject({ kind: 'sync' });
  });

  it('use_slots turned off: the members’ slots are dropped (Patroni drops them too: they would hold WAL for ever)', () => {
    const m = start();
    m.publish(primary(100));
    m.done();
    expect(m.order()).toEqual({ kind: 'giveSlots', slots: plan(['node2']) });
    m.done();
    m.publish(primary(100), { useSlots: false });
    expect(m.order()).toEqual({ kind: 'giveSlots', slots: plan([]) });
    m.done({ useSlots: false });
    expect(m.order()).toMatchObject({ kind: 'sync' });
    // Nothing left to give: the next publication only takes its synchronous step.
    m.publish(primary(100), { useSlots: false });
    expect(m.order()).toMatchObject({ kind: 'sync' });
  });

  it('the publications the runtime may leave out give no order and change nothing', () => {
    const synchronous = (names: string) => ({ names, inEffect: null, shown: undefined });
    const cases: Array<{
      isLeader: boolean;
      status: PostgresStatus;
      names: string;
      view?: ClusterView | null;
    }> = [
      { isLeader: false, status: replica, names: '' },
      { isLeader: true, status: replica, names: '' },
      { isLeader: true, status: replica, names: 'node2' },
      { isLeader: true, status: primary(5), names: '', view: null },
    ];
    for (const c of cases) {
      const e = {
        isLeader: c.isLeader,
        status: c.status,
        view: c.view === undefined ? viewOf('node1') : c.view,
        synchronous: synchronous(c.names),
      };
      expect(publicationMatters(e.isLeader, e.status, e.view, e.synchronous.names, false)).toBe(false);
      const m = start();
      const before = m.snapshot();
      m.publish(c.status, { view: e.view, synchronous: e.synchronous }, c.isLeader);
      expect(m.order()).toEqual({ kind: 'none' });
      expect({ ...m.snapshot().context, order: null }).toEqual({ ...before.context, order: null });
    }
    // Those it must send: the writable leader's, and a former leader's that still names standbys.
    expect(publicationMatters(true, primary(5), viewOf('node1'), '', false)).toBe(true);
    expect(publicationMatters(false, replica, null, 'node2', false)).toBe(true);
  });

  it('a failed write ends the publication and is tried again at the next one', () => {
    const m = start();
    m.publish(primary(100));
    expect(m.order().kind).toBe('writeStatus');
    m.failed();
    expect(m.idle()).toBe(true);
    m.publish(primary(100));
    expect(m.order()).toEqual({ kind: 'writeStatus', optime: 100 });
  });
});
