/**
 * Permanent slots, ignore_slots and use_slots: which slots each node keeps, by Patroni 3.0.2's
 * get_replication_slots, and how bootstrap.dcs's slots are checked.
 */
import { describe, expect, it } from 'vitest';
import {
  ignored,
  ignoreMatchers,
  permanentSlots,
  slotPlan,
  slotPlanKey,
} from '../../src/cluster/replication-slots.ts';
import { type ClusterView, emptyClusterView } from '../../src/cluster/view.ts';
import { parseConfigText } from '../../src/config/load.ts';
import { member, memberWith } from '../helpers/members.ts';
import { MINIMAL_CONFIG } from '../helpers/minimal-config.ts';

const SLOTS = {
  dr: { type: 'physical' },
  bare: null,
  cdc: { type: 'logical', database: 'app', plugin: 'pgoutput' },
  implied: { database: 'app', plugin: 'test_decoding' },
  'Bad-Name': null,
  half: { type: 'logical', database: 'app' },
  odd: 'physical',
  node_b: { type: 'physical' },
};

function view(config: Record<string, unknown>, leader = 'a'): ClusterView {
  return {
    ...emptyClusterView,
    leader: { name: leader, index: '1', session: '1' },
    members: [member('a'), member('node-b'), memberWith('c', { tags: { replicatefrom: 'node-b' } })],
    config: { index: '1', data: config },
  };
}

describe('reading /config', () => {
  it('permanent slots: physical when empty or typed so, logical with a database and a plugin; the rest left out', () => {
    expect(permanentSlots({ slots: SLOTS })).toEqual({
      physical: ['dr', 'bare', 'node_b'],
      logical: [
        { name: 'cdc', database: 'app', plugin: 'pgoutput' },
        { name: 'implied', database: 'app', plugin: 'test_decoding' },
      ],
    });
    expect(permanentSlots({ slots: ['dr'] })).toEqual({ physical: [], logical: [] });
    expect(permanentSlots(null)).toEqual({ physical: [], logical: [] });
  });

  it('ignore_slots: mappings, each field given must match', () => {
    const matchers = ignoreMatchers({
      ignore_slots: [{ name: 'keep' }, { type: 'logical', plugin: 'wal2json' }, 'x'],
    });
    expect(matchers).toEqual([{ name: 'keep' }, { type: 'logical', plugin: 'wal2json' }]);
    const slot = (name: string, type: string, plugin: string | null) => ({
      name,
      type,
      database: 'app',
      plugin,
    });
    expect(ignored(slot('keep', 'physical', null), matchers)).toBe(true);
    expect(ignored(slot('other', 'logical', 'wal2json'), matchers)).toBe(true);
    expect(ignored(slot('other', 'logical', 'pgoutput'), matchers)).toBe(false);
    expect(ignored(slot('other', 'physical', null), matchers)).toBe(false);
  });

  it('bootstrap.dcs: a slot /config could not use is refused when the configuration is read', () => {
    const withDcs = (dcs: string) => parseConfigText(`${MINIMAL_CONFIG}bootstrap:\n  dcs:\n${dcs}`);
    expect(
      withDcs('    slots: {dr: {type: physical}, cdc: {database: app, plugin: pgoutput}}\n').bootstrap.dcs[
        'slots'
      ],
    ).toBeTruthy();
    expect(() => withDcs('    slots: {Bad: null}\n')).toThrow(
      /bootstrap\.dcs\.slots\.Bad: a slot name may only contain/,
    );
    expect(() => withDcs('    slots: {half: {type: logical, database: app}}\n')).toThrow(
      /slots\.half: must be physical, or logical with a database and a plugin/,
    );
    expect(() => withDcs('    slots: {odd: physical}\n')).toThrow(/slots\.odd: must be a mapping/);
    expect(() => withDcs('    ignore_slots: [keep]\n')).toThrow(
      /bootstrap\.dcs\.ignore_slots: must be a list of mappings/,
    );
  });
});

describe('the slots each node keeps', () => {
  const config = { slots: SLOTS, ignore_slots: [{ name: 'keep' }] };

  it('the primary: its members’ (not the cascading one’s), the permanent physical and logical ones', () => {
    expect(slotPlan(view(config), 'a', true, true)).toEqual({
      physical: ['bare', 'dr', 'node_b'],
      logical: [
        { name: 'cdc', database: 'app', plugin: 'pgoutput' },
        { name: 'implied', database: 'app', plugin: 'test_decoding' },
      ],
      ignore: [{ name: 'keep' }],
    });
  });

  it('a permanent physical slot named as the node’s own member slot is not kept on that node', () => {
    expect(slotPlan(view(config, 'node-b'), 'node-b', true, true).physical).toEqual(['a', 'bare', 'c', 'dr']);
  });

  it('use_slots off: no member slot, no logical slot; the permanent physical ones stay (as in Patroni)', () => {
    expect(slotPlan(view(config), 'a', true, false)).toEqual({
      physical: ['bare', 'dr', 'node_b'],
      logical: [],
      ignore: [{ name: 'keep' }],
    });
  });

  it('a replica: its cascaders’ slots only (permanent logical slots are not copied to replicas yet)', () => {
    expect(slotPlan(view(config), 'node-b', false, true).physical).toEqual(['c']);
    expect(slotPlan(view(config), 'node-b', false, true).logical).toEqual([]);
  });

  it('a standby cluster’s leader: its members’ and the permanent physical ones, no logical slot', () => {
    const standby = { ...config, standby_cluster: { host: '10.9.9.9', port: 5432 } };
    expect(slotPlan(view(standby), 'a', true, true)).toMatchObject({
      physical: ['bare', 'dr', 'node_b'],
      logical: [],
    });
  });

  it('the key: the physical names alone for a plain plan, so an empty plan is the empty key', () => {
    expect(slotPlanKey(slotPlan(view({}), 'a', true, true))).toBe('node_b');
    expect(slotPlanKey({ physical: [], logical: [], ignore: [] })).toBe('');
    expect(slotPlanKey(slotPlan(view(config), 'a', true, true))).toBe(
      'bare,dr,node_b|logical:cdc/app/pgoutput,implied/app/test_decoding|ignore:[{"name":"keep"}]',
    );
  });
});
