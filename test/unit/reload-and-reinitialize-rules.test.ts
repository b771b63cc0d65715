import { describe, expect, it } from 'vitest';
import { reinitializeRefusal } from '../../src/cluster/reinitialize.ts';
import { type ClusterView, emptyClusterView } from '../../src/cluster/view.ts';
import { parseConfigText } from '../../src/config/load.ts';
import { reloadRefusal } from '../../src/config/reload.ts';
import { MINIMAL_CONFIG } from '../helpers/minimal-config.ts';

const BASE = MINIMAL_CONFIG;

const current = parseConfigText(BASE);

describe('what a reload may change (reloadRefusal)', () => {
  it('accepts the same file and anything that may change at run time', () => {
    expect(reloadRefusal(current, parseConfigText(BASE))).toBeNull();
    const tagged = parseConfigText(`${BASE}tags: {nofailover: true}\n`);
    expect(reloadRefusal(current, tagged)).toBeNull();
    const params = parseConfigText(
      BASE.replace('data_dir: /d', 'data_dir: /d\n  parameters: {work_mem: 8MB}'),
    );
    expect(reloadRefusal(current, params)).toBeNull();
  });

  it.each([
    ['name', BASE.replace('name: n', 'name: m'), 'name cannot change while running'],
    ['scope', BASE.replace('scope: s', 'scope: t'), 'scope cannot change while running'],
    ['namespace', `${BASE}namespace: /other/\n`, 'namespace cannot change while running'],
    [
      'data_dir',
      BASE.replace('data_dir: /d', 'data_dir: /e'),
      'postgresql.data_dir cannot change while running',
    ],
  ])('refuses a new %s', (_what, text, reason) => {
    expect(reloadRefusal(current, parseConfigText(text))).toBe(reason);
  });

  it('refuses switching the REST API to https (its socket is made once)', () => {
    const tls = { ...current, restapi: { ...current.restapi, certfile: '/c.pem' } };
    expect(reloadRefusal(current, tls)).toBe('switching the REST API between http and https needs a restart');
    expect(reloadRefusal(tls, current)).toBe('switching the REST API between http and https needs a restart');
  });

  it("refuses turning fast failover on or off, or another short lease (the members' W was computed from it)", () => {
    const fast = parseConfigText(`${BASE}gossip: {fast_failover: true}\n`);
    const off = parseConfigText(`${BASE}gossip: {fast_failover: false}\n`);
    const longer = parseConfigText(`${BASE}gossip: {fast_failover: true, short_lease: 5}\n`);
    const reason = 'gossip.fast_failover and gossip.short_lease need a restart';
    expect(reloadRefusal(off, fast)).toBe(reason);
    expect(reloadRefusal(fast, off)).toBe(reason);
    expect(reloadRefusal(current, fast)).toBeNull();
    expect(reloadRefusal(fast, longer)).toBe(reason);
    expect(
      reloadRefusal(fast, parseConfigText(`${BASE}gossip: {fast_failover: true, short_lease: 3}\n`)),
    ).toBeNull();
  });
});

describe("Patroni's preconditions for POST /reinitialize (reinitializeRefusal)", () => {
  const withLeader = (name: string): ClusterView => ({
    ...emptyClusterView,
    leader: { name, index: '1', session: '1' },
  });

  it('needs a leader to clone from', () => {
    expect(reinitializeRefusal(emptyClusterView, 'n2', false)).toBe(
      'Cluster has no leader, can not reinitialize',
    );
  });

  it('refuses on the leader, by the key or by what the node machine holds', () => {
    expect(reinitializeRefusal(withLeader('n2'), 'n2', false)).toBe('I am the leader, can not reinitialize');
    expect(reinitializeRefusal(withLeader('n1'), 'n2', true)).toBe('I am the leader, can not reinitialize');
  });

  it('allows a replica of another leader', () => {
    expect(reinitializeRefusal(withLeader('n1'), 'n2', false)).toBeNull();
  });
});
