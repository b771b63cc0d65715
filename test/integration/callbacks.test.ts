/**
 * Patroni's user callbacks on real processes (three agents, etcd 3.4, PostgreSQL 15): a script
 * that moves a "virtual IP" marker as VIP scripts do — it takes the marker on `master`, gives it
 * up on any other role if it holds it — follows the leader through bootstrap, a switchover and a
 * restart, and every call is `<command> <action> <role> <scope>`, as Patroni 3.0.2 makes it.
 */
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { lookupUser } from '../../src/local/os-user.ts';
import { eventually, inRecovery, leaderNode, useLocalCluster } from '../helpers/cluster-tools.ts';

vi.setConfig({ testTimeout: 120_000 });

const SCOPE = 'callbacks';
const dir = mkdtempSync(join(tmpdir(), 'pgwarden-vip-'));
const VIP = join(dir, 'vip');
const CALLS = join(dir, 'calls');
const SCRIPT = join(dir, 'vip.sh');
const FENCE = join(dir, 'fence.sh');
const DENY = join(dir, 'deny');
writeFileSync(
  SCRIPT,
  `#!/bin/sh
# $1: this node (from the command line), then Patroni's <action> <role> <scope>
echo "$1 $2 $3 $4" >> ${CALLS}
case "$3" in
  master) echo "$1" > ${VIP}.$1 && mv ${VIP}.$1 ${VIP} ;;
  *) [ "$(cat ${VIP} 2>/dev/null)" = "$1" ] && rm -f ${VIP} ;;
esac
exit 0
`,
);
chmodSync(SCRIPT, 0o755);
// pre_promote: refuses on the nodes named in DENY, else says so and allows.
writeFileSync(
  FENCE,
  `#!/bin/sh
if grep -qw "$1" ${DENY} 2>/dev/null; then echo "$1 pre_promote refused" >> ${CALLS}; exit 1; fi
echo "$1 pre_promote allowed" >> ${CALLS}
exit 0
`,
);
chmodSync(FENCE, 0o755);
const pgUser = lookupUser('postgres');
if (pgUser && process.getuid?.() === 0) chownSync(dir, pgUser.uid, pgUser.gid);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const clusterOf = useLocalCluster(
  {
    nodes: 3,
    scope: SCOPE,
    dcs: { ttl: 10, loop_wait: 2, retry_timeout: 4 },
    editConfig: (node, doc) => {
      const postgresql = doc['postgresql'] as Record<string, unknown>;
      const command = `${SCRIPT} ${node.name}`;
      return {
        ...doc,
        postgresql: {
          ...postgresql,
          pre_promote: `${FENCE} ${node.name}`,
          callbacks: {
            on_start: command,
            on_stop: command,
            on_restart: command,
            on_reload: command,
            on_role_change: command,
          },
        },
      };
    },
  },
  { beforeAll, afterAll, afterEach },
);

const calls = () => (existsSync(CALLS) ? readFileSync(CALLS, 'utf8').trim().split('\n') : []);
const vip = () => (existsSync(VIP) ? readFileSync(VIP, 'utf8').trim() : null);

describe('user callbacks on real processes', () => {
  it('after bootstrap the leader holds the marker; each node was told on_start with its role and the scope', async () => {
    const leader = await leaderNode(clusterOf());
    await eventually('the marker on the leader', async () => {
      if (vip() !== leader.name) throw new Error(`marker: ${vip()}`);
    });
    const lines = calls();
    expect(lines).toContain(`${leader.name} on_start master ${SCOPE}`);
    for (const n of clusterOf().nodes.filter((x) => x !== leader))
      expect(lines).toContain(`${n.name} on_start replica ${SCOPE}`);
  });

  it('a switchover moves the marker: on_role_change master on the new leader, the old one gives it up', async () => {
    const cluster = clusterOf();
    const old = await leaderNode(cluster);
    const candidate = cluster.nodes.find((n) => n !== old)!;
    const mark = calls().length;
    const res = await cluster.rest.request(`${old.apiUrl}/switchover`, {
      method: 'POST',
      body: JSON.stringify({ leader: old.name, candidate: candidate.name }),
      timeoutMs: 60_000,
    });
    expect(res.status, res.text).toBe(200);
    await eventually(
      'the marker on the new leader, and the old one a replica again',
      async () => {
        const since = calls().slice(mark);
        if (vip() !== candidate.name || !since.includes(`${old.name} on_role_change replica ${SCOPE}`))
          throw new Error(`marker ${vip()}, calls ${JSON.stringify(since)}`);
      },
      60_000,
    );
    const since = calls().slice(mark);
    expect(since).toContain(`${candidate.name} on_role_change master ${SCOPE}`);
    // The old leader: stopped to hand over (on_stop), then a replica (a role change, not a
    // start). What may follow is the rejoin check's stop and start as a replica (pgwarden stops
    // an old primary to check with pg_rewind even after a clean handover: a known gap, README).
    expect(since.filter((l) => l.startsWith(`${old.name} `)).slice(0, 2)).toEqual([
      `${old.name} on_stop demoted ${SCOPE}`,
      `${old.name} on_role_change replica ${SCOPE}`,
    ]);
    expect(since.filter((l) => l.startsWith(`${old.name} `) && l.includes(' master '))).toEqual([]);
    expect(await cluster.waitUntilReady({ timeoutMs: 60_000 })).toBe(true);
    expect(vip()).toBe(candidate.name);
  });

  it('a restart on request: on_restart alone, and the leader keeps the marker', async () => {
    const cluster = clusterOf();
    const leader = await leaderNode(cluster);
    const mark = calls().length;
    const res = await cluster.rest.request(`${leader.apiUrl}/restart`, {
      method: 'POST',
      body: '{}',
      timeoutMs: 60_000,
    });
    expect(res.status, res.text).toBe(200);
    await eventually('on_restart told', async () => {
      if (!calls().slice(mark).includes(`${leader.name} on_restart master ${SCOPE}`))
        throw new Error(JSON.stringify(calls().slice(mark)));
    });
    expect(
      calls()
        .slice(mark)
        .filter((l) => l.startsWith(`${leader.name} `)),
    ).toEqual([`${leader.name} on_restart master ${SCOPE}`]);
    expect(vip()).toBe(leader.name);
  });

  it('POST /reload: on_reload with the role of the node', async () => {
    const cluster = clusterOf();
    const leader = await leaderNode(cluster);
    const replica = cluster.nodes.find((n) => n !== leader)!;
    const mark = calls().length;
    const res = await cluster.rest.request(`${replica.apiUrl}/reload`, { method: 'POST', timeoutMs: 30_000 });
    expect(res.status, res.text).toBe(202);
    await eventually('on_reload told', async () => {
      if (!calls().slice(mark).includes(`${replica.name} on_reload replica ${SCOPE}`))
        throw new Error(JSON.stringify(calls().slice(mark)));
    });
    expect(vip()).toBe(leader.name);
  });

  it('pre_promote refusing: no promotion, the lock given back; once it allows, a replica leads', async () => {
    const cluster = clusterOf();
    const leader = await leaderNode(cluster);
    const others = cluster.nodes.filter((n) => n !== leader);
    writeFileSync(DENY, others.map((n) => n.name).join(' '));
    const mark = calls().length;
    await cluster.killNode(leader.name);
    await eventually(
      'a refusal',
      async () => {
        if (
          !calls()
            .slice(mark)
            .some((l) => l.endsWith(' pre_promote refused'))
        )
          throw new Error('none yet');
      },
      60_000,
    );
    // Refused: the winner gave the lock back and nobody is writable.
    for (const n of others) expect(await inRecovery(n)).not.toBe(false);
    expect(
      calls()
        .slice(mark)
        .filter((l) => l.includes(' master ')),
    ).toEqual([]);
    writeFileSync(DENY, '');
    // The leader key shows the winner before its pre_promote has run (it runs after the lock is
    // taken): wait for the script's word, not only for the key (CI on d8b12b5 read it too early).
    const next = await eventually(
      'a new leader once pre_promote allows',
      async () => {
        const now = await cluster.leader();
        if (!now || now === leader.name) throw new Error(`leader ${now}`);
        if (!calls().slice(mark).includes(`${now} pre_promote allowed`))
          throw new Error(`${now}: not allowed yet`);
        return now;
      },
      90_000,
    );
    await eventually('the marker on the new leader', async () => {
      if (vip() !== next) throw new Error(`marker ${vip()}`);
    });
    cluster.startNode(leader.name);
  });
});
