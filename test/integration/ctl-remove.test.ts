/**
 * `remove` against a real etcd 3.4, beside the real patronictl 3.0.2 on the same keys: the
 * members' table, patronictl's three questions in its words, every key of the cluster gone after
 * the right answers, and nothing removed after a wrong one.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdGatewayKv } from '../../src/actors/etcd-gateway.ts';
import { KvDcs } from '../../src/actors/kv-dcs/index.ts';
import { type EtcdHandle, startEtcd } from '../helpers/etcd.ts';

const BIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../bin/pgwarden.js');
const PATRONICTL = '/usr/bin/patronictl';
const SCOPE = 'rm';

let etcd: EtcdHandle;
let dir: string;
let config: string;

beforeAll(async () => {
  etcd = await startEtcd();
  dir = mkdtempSync(join(tmpdir(), 'pgwarden-remove-'));
  config = join(dir, 'ctl.yml');
  writeFileSync(config, `scope: ${SCOPE}\netcd3: {host: '${new URL(etcd.endpoint).host}'}\n`);
});

afterAll(async () => {
  await etcd?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const dcs = () =>
  new KvDcs(new EtcdGatewayKv({ hosts: [etcd.endpoint] }), {
    namespace: 'service',
    scope: SCOPE,
    retryTimeoutSeconds: 3,
  });

/** A cluster as an agent leaves it in etcd: /initialize, /config, a member, the leader key. */
async function populate(): Promise<void> {
  const d = dcs();
  try {
    await d.setInitialize('7300000000000000000');
    await d.setConfig({ ttl: 30, loop_wait: 10 });
    await d.ensureLease(60);
    await d.touchMember('node1', {
      conn_url: 'postgres://127.0.0.1:5432/postgres',
      api_url: 'http://127.0.0.1:8008/patroni',
      state: 'running',
      role: 'master',
      version: '3.0.2',
      timeline: 1,
    });
    expect(await d.attemptToAcquireLeader('node1')).toBe(true);
  } finally {
    await d.close();
  }
}

async function keys(): Promise<number> {
  const d = dcs();
  try {
    const view = await d.getCluster();
    return view.members.length + (view.leader ? 1 : 0) + (view.config ? 1 : 0) + (view.initialize ? 1 : 0);
  } finally {
    await d.close();
  }
}

function remove(tool: 'pgwarden' | 'patronictl', answers: string[]) {
  const [cmd, args] =
    tool === 'pgwarden'
      ? [process.execPath, [BIN, 'remove', '-c', config, SCOPE]]
      : [PATRONICTL, ['-c', config, 'remove', SCOPE]];
  // spawns: node patronictl (cmd is one of the two above)
  const r = spawnSync(cmd, args, {
    input: answers.map((a) => `${a}\n`).join(''),
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, HOME: dir, PATRONICTL_CONFIG_FILE: '' },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('remove, beside patronictl 3.0.2', () => {
  it('the right answers: the same table and questions, and every key of the cluster gone', async () => {
    const results = [];
    for (const tool of ['patronictl', 'pgwarden'] as const) {
      await populate();
      expect(await keys()).toBe(4);
      const r = remove(tool, [SCOPE, 'Yes I am aware', 'node1']);
      expect(r.code, `${tool}: ${r.err}`).toBe(0);
      expect(await keys()).toBe(0);
      results.push(r.out);
    }
    expect(results[1]).toContain('Please specify the leader name to continue');
    expect(results[1]).toBe(results[0]);
  });

  it('a wrong answer to any question: the same error, and nothing removed', async () => {
    await populate();
    for (const answers of [['other'], [SCOPE, 'yes'], [SCOPE, 'Yes I am aware', 'node2']]) {
      const theirs = remove('patronictl', answers);
      const ours = remove('pgwarden', answers);
      expect(ours.code).toBe(theirs.code);
      expect(ours.code).toBe(1);
      const why = /Error: (.*)/.exec(theirs.err + theirs.out)?.[1];
      expect(why, theirs.err).toBeTruthy();
      expect(ours.err + ours.out).toContain(why!);
      expect(await keys()).toBe(4);
    }
  });
});
