/**
 * The `pgwarden node` command as a user meets it: bad configuration is refused before anything
 * starts (exit 2, the key named, nothing in etcd), and an unreachable etcd is waited for, not
 * crashed on.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EtcdHandle, startEtcd } from '../../src/local/etcd-server.ts';
import { asUser, isRoot, lookupUser } from '../../src/local/os-user.ts';
import { freePort } from '../../src/local/ports.ts';
import { itWith, root } from '../helpers/prerequisites.ts';

const BIN = resolve(import.meta.dirname, '../../bin/pgwarden.js');
const user = lookupUser('postgres');
let dir: string;
let etcd: EtcdHandle;

function configText(etcdHostPort: string, over: Record<string, string> = {}): string {
  const v = {
    name: 'cli1',
    data_dir: join(dir, 'data'),
    ...over,
  };
  return [
    'scope: cli',
    `name: ${v.name}`,
    'restapi:',
    '  listen: 127.0.0.1:0',
    '  connect_address: 127.0.0.1:8008',
    'etcd3:',
    `  host: ${etcdHostPort}`,
    'postgresql:',
    '  listen: 127.0.0.1:5999',
    '  connect_address: 127.0.0.1:5999',
    ...(v.data_dir ? [`  data_dir: ${v.data_dir}`] : []),
    '  authentication:',
    '    superuser: {username: postgres, password: x}',
    '    replication: {username: replicator, password: y}',
  ].join('\n');
}

function writeConfig(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  if (isRoot() && user) chownSync(file, user.uid, user.gid);
  return file;
}

function run(args: string[], asPostgres = true) {
  const argv = [process.execPath, BIN, ...args];
  const [cmd, ...rest] = asPostgres ? asUser(user, argv) : argv;
  // spawns: setpriv env node
  return spawnSync(cmd!, rest, { encoding: 'utf8', timeout: 30_000 });
}

async function etcdKeys(prefix: string): Promise<number> {
  const key = Buffer.from(prefix).toString('base64');
  const end = Buffer.from(
    prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1),
  ).toString('base64');
  const res = await fetch(`${etcd.endpoint}/v3/kv/range`, {
    method: 'POST',
    body: JSON.stringify({ key, range_end: end, count_only: true }),
  });
  return Number(((await res.json()) as { count?: string }).count ?? 0);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pgwarden-cli-'));
  if (isRoot() && user) chownSync(dir, user.uid, user.gid);
  etcd = await startEtcd();
});

afterAll(async () => {
  await etcd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('pgwarden node', () => {
  const hostPort = () => etcd.endpoint.replace('http://', '');

  it('a missing file: exit 2 and the path named', () => {
    const r = run(['node', join(dir, 'nope.yml')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/invalid configuration: config: .*nope\.yml/);
  });

  it('a bad --journal-size: exit 2 and why, before anything else', () => {
    for (const size of ['0', 'abc', '1.5']) {
      const r = run(['node', join(dir, 'nope.yml'), '--journal', join(dir, 'j.bin'), '--journal-size', size]);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(`--journal-size must be a whole number of MiB, at least 1 (got '${size}')`);
    }
  });

  it('a missing required key: exit 2, the key named, nothing written to etcd', async () => {
    const file = writeConfig('no-datadir.yml', configText(hostPort(), { data_dir: '' }));
    const r = run(['node', file]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('postgresql.data_dir');
    expect(await etcdKeys('/service/cli/')).toBe(0);
  });

  it('a value of the wrong type: exit 2 and the key named', () => {
    const file = writeConfig(
      'bad-port.yml',
      configText(hostPort()).replace('127.0.0.1:5999', '127.0.0.1:notaport'),
    );
    const r = run(['node', file]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('postgresql.listen');
  });

  itWith(
    [root('to start the agent as root and see it refuse')],
    'refuses to run as root, saying how to run it',
    () => {
      const file = writeConfig('ok.yml', configText(hostPort()));
      const r = run(['node', file], false);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/refuses to run as root.*runuser -u postgres/);
    },
  );

  it('waits for an unreachable etcd with a visible message, and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const file = writeConfig('no-etcd.yml', configText(`127.0.0.1:${port}`, { name: 'cli2' }));
    const [cmd, ...rest] = asUser(user, [process.execPath, BIN, 'node', file]);
    // spawns: setpriv env node
    const child = spawn(cmd!, rest, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    const deadline = Date.now() + 25_000;
    while (!/waiting on etcd/.test(out) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 200));
    expect(out).toMatch(/waiting on etcd/);
    expect(child.exitCode).toBeNull();
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((res) => {
      const t = setTimeout(() => {
        child.kill('SIGKILL');
        res(null);
      }, 20_000);
      child.once('exit', (c) => {
        clearTimeout(t);
        res(c);
      });
    });
    expect(code).toBe(0);
  });
});
