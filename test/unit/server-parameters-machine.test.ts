import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { notRunningStatus, type PostgresStatus } from '../../src/cluster/postgres-state.ts';
import {
  namesSomeone,
  sampleMatters,
  serverParametersMachine,
} from '../../src/machines/server-parameters.ts';

const stopped = notRunningStatus();
const primary = (names: string): PostgresStatus => ({
  ...notRunningStatus(),
  running: true,
  currentLsn: 1000,
  synchronousStandbyNames: names,
});
const replica: PostgresStatus = { ...notRunningStatus(), running: true, inRecovery: true };

function start() {
  const actor = createActor(serverParametersMachine).start();
  return {
    actor,
    ctx: () => actor.getSnapshot().context,
    state: () => actor.getSnapshot().value,
    send: (e: Parameters<typeof actor.send>[0]) => actor.send(e),
  };
}

describe('server parameters machine: before the first sample', () => {
  it('gives the first parameters as they are, then only writes a change and holds its reload', () => {
    const m = start();
    m.send({ type: 'DYNAMIC', parameters: { work_mem: '4MB' } });
    m.send({ type: 'APPLY' });
    expect(m.ctx().order).toEqual({
      kind: 'write',
      params: { work_mem: '4MB', synchronous_standby_names: '' },
    });
    m.send({ type: 'DYNAMIC', parameters: { work_mem: '8MB' } });
    m.send({ type: 'APPLY' });
    expect(m.ctx().order.kind).toBe('write');
    expect(m.state()).toEqual({ unsampled: 'reloadHeld' });
  });

  it("adopts a running primary's synchronous standbys and then does the held reload, with them", () => {
    const m = start();
    m.send({ type: 'APPLY' });
    m.send({ type: 'DYNAMIC', parameters: { work_mem: '8MB' } });
    m.send({ type: 'APPLY' });
    m.send({ type: 'SAMPLED', status: primary('node2'), token: 0 });
    expect(m.state()).toBe('sampled');
    expect(m.ctx().names).toBe('node2');
    expect(m.ctx().order).toMatchObject({
      kind: 'reload',
      params: { work_mem: '8MB', synchronous_standby_names: 'node2' },
    });
  });

  it('keeps holding through further changes, and gives unchanged parameters as they are', () => {
    const m = start();
    m.send({ type: 'APPLY' });
    m.send({ type: 'DYNAMIC', parameters: { work_mem: '8MB' } });
    m.send({ type: 'APPLY' });
    m.send({ type: 'DYNAMIC', parameters: { work_mem: '16MB' } });
    m.send({ type: 'APPLY' });
    expect(m.ctx().order).toMatchObject({ kind: 'write', params: { work_mem: '16MB' } });
    expect(m.state()).toEqual({ unsampled: 'reloadHeld' });
    m.send({ type: 'DYNAMIC', parameters: {} });
    m.send({ type: 'APPLY' }); // back to what PostgreSQL was given: nothing held any more to differ
    expect(m.ctx().order).toEqual({ kind: 'write', params: { synchronous_standby_names: '' } });
    expect(m.state()).toEqual({ unsampled: 'reloadHeld' });
  });

  it('drops the held reload when the first sample shows PostgreSQL stopped (its next start reads the file)', () => {
    const m = start();
    m.send({ type: 'APPLY' });
    m.send({ type: 'DYNAMIC', parameters: { work_mem: '8MB' } });
    m.send({ type: 'APPLY' });
    m.send({ type: 'SAMPLED', status: stopped, token: 0 });
    expect(m.state()).toBe('sampled');
    expect(m.ctx().order.kind).toBe('none');
  });
});

describe('server parameters machine: once sampled', () => {
  function sampled() {
    const m = start();
    m.send({ type: 'APPLY' });
    m.send({ type: 'SAMPLED', status: replica, token: 0 });
    return m;
  }

  it('reloads a change, counting it applied only once the reload succeeded', () => {
    const m = sampled();
    m.send({ type: 'DYNAMIC', parameters: { work_mem: '8MB' } });
    m.send({ type: 'APPLY' });
    const order = m.ctx().order;
    expect(order.kind).toBe('reload');
    // Not reported as reloaded yet: the same parameters again reload again.
    m.send({ type: 'APPLY' });
    expect(m.ctx().order.kind).toBe('reload');
    m.send({ type: 'RELOADED', text: (order as { text: string }).text });
    m.send({ type: 'APPLY' });
    expect(m.ctx().order.kind).toBe('write');
  });

  it('judges a sample by the epoch it began in: an older one does not show where a new value took effect', () => {
    const m = sampled();
    m.send({ type: 'SET_NAMES', value: 'node2', names: ['node2'] });
    const epoch = m.ctx().epoch;
    m.send({ type: 'SAMPLED', status: primary('node3'), token: epoch - 1 });
    expect(m.ctx().shown).toBeUndefined();
    m.send({ type: 'SAMPLED', status: primary('node2'), token: epoch });
    expect(m.ctx().shown).toBe('node2');
    m.send({ type: 'RELOAD_RETURNED' });
    expect(m.ctx().epoch).toBe(epoch + 1);
    expect(m.ctx().shown).toBeUndefined();
  });

  it('never empties the list of a writable primary that lost the lock; does once it is not writable', () => {
    const m = sampled();
    m.send({ type: 'SET_NAMES', value: 'node2', names: ['node2'] });
    m.send({ type: 'NOT_LEADER', status: primary('node2') });
    expect(m.ctx().names).toBe('node2');
    m.send({ type: 'NOT_LEADER', status: replica });
    expect(m.ctx().names).toBe('');
  });

  it('RELOAD_AGAIN: the next APPLY reloads whatever the parameters are', () => {
    const m = sampled();
    m.send({ type: 'APPLY' });
    expect(m.ctx().order.kind).toBe('write'); // unchanged: nothing to reload
    m.send({ type: 'RELOAD_AGAIN' });
    m.send({ type: 'APPLY' });
    expect(m.ctx().order.kind).toBe('reload');
  });
});

describe('server parameters machine: the samples and NOT_LEADERs the runtime may leave out', () => {
  it('a sample sampleMatters rejects changes nothing but the (empty) order', () => {
    const statuses = [stopped, replica, primary(''), primary('node2')];
    for (const names of ['', 'node2']) {
      for (const noted of [false, true]) {
        for (const status of statuses) {
          for (const late of [0, 1]) {
            const m = start();
            m.send({ type: 'APPLY' });
            m.send({ type: 'SAMPLED', status: replica, token: 0 });
            m.send({ type: 'SET_NAMES', value: names, names: names ? [names] : [] });
            if (noted) m.send({ type: 'SAMPLED', status: primary(names), token: m.ctx().epoch });
            const token = m.ctx().epoch - late;
            const before = { ...m.ctx(), order: null };
            const matters = sampleMatters(m.actor.getSnapshot(), status, token);
            m.send({ type: 'SAMPLED', status, token });
            if (!matters) expect({ ...m.ctx(), order: null }).toEqual(before);
          }
        }
      }
    }
  });

  it("leaves out an asynchronous primary's samples once its value's effect is noted", () => {
    const m = start();
    m.send({ type: 'APPLY' });
    // The first adopts the running value (a new epoch); the next two note it, the second of
    // them setting the catch-up point; after that a sample notes nothing new.
    for (let i = 0; i < 3; i++) {
      expect(sampleMatters(m.actor.getSnapshot(), primary(''), m.ctx().epoch)).toBe(true);
      m.send({ type: 'SAMPLED', status: primary(''), token: m.ctx().epoch });
    }
    expect(sampleMatters(m.actor.getSnapshot(), primary(''), m.ctx().epoch)).toBe(false);
    // A standby now named that reports sync and has the WAL is new: that sample matters.
    const caughtUp: PostgresStatus = {
      ...primary(''),
      replication: [
        {
          usename: 'replicator',
          application_name: 'node2',
          client_addr: null,
          state: 'streaming',
          sync_state: 'sync',
          sync_priority: 1,
          flush_lsn: 1000,
          replay_lsn: 1000,
        },
      ],
    };
    expect(sampleMatters(m.actor.getSnapshot(), caughtUp, m.ctx().epoch)).toBe(true);
  });

  it('every sample matters before the first; a NOT_LEADER only while some standby is named', () => {
    const m = start();
    expect(sampleMatters(m.actor.getSnapshot(), replica, 5)).toBe(true);
    expect(namesSomeone(m.ctx())).toBe(false);
    m.send({ type: 'SET_NAMES', value: 'node2', names: ['node2'] });
    expect(namesSomeone(m.ctx())).toBe(true);
  });
});
