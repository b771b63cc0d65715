/**
 * create_replica_methods and bootstrap.method: how the configuration is read, which methods a
 * plan keeps, and — with Patroni 3.0.2's own create_replica as the oracle, run by Python on the
 * same sections (test/helpers/patroni-replica-oracle.py) — that pgwarden tries the same methods
 * in the same order with the same arguments, stopping at the same one.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OwnedFiles } from '../../src/actors/postgres/files.ts';
import { createReplica, type DataDirHost } from '../../src/actors/postgres/replica.ts';
import { CommandError, type Runner } from '../../src/actors/postgres/run.ts';
import type { UpstreamTarget } from '../../src/cluster/postgres-state.ts';
import {
  BASEBACKUP_ONLY,
  commandMethodArgs,
  keepsDataFirst,
  methodConnstring,
  replicaPlan,
} from '../../src/cluster/replica-methods.ts';
import { parseConfigText } from '../../src/config/load.ts';
import type { NodeConfig } from '../../src/config/types.ts';

const ORACLE = resolve(import.meta.dirname, '../helpers/patroni-replica-oracle.py');
const FROM: UpstreamTarget = { host: '10.0.0.1', port: 5433, applicationName: 'n2', slotName: null };

function configWith(postgresql: Record<string, unknown>, bootstrap?: Record<string, unknown>): NodeConfig {
  const doc = {
    scope: 'demo',
    name: 'n2',
    restapi: { listen: ':8008', connect_address: '10.0.0.2:8008' },
    etcd3: { host: 'e1' },
    ...(bootstrap ? { bootstrap } : {}),
    postgresql: {
      listen: '*:5432',
      connect_address: '10.0.0.2:5432',
      data_dir: '/data/n2',
      authentication: {
        superuser: { username: 'postgres' },
        replication: { username: 'replicator', password: 'secret', sslmode: 'require' },
      },
      ...postgresql,
    },
  };
  // JSON is YAML: the document goes through the same reader as a file.
  return parseConfigText(JSON.stringify(doc));
}

describe('reading create_replica_methods', () => {
  it('none configured: pg_basebackup alone, with postgresql.basebackup options if any', () => {
    expect(configWith({}).postgresql.create_replica_methods).toBe(BASEBACKUP_ONLY);
    expect(
      configWith({ basebackup: [{ 'max-rate': '100M' }, 'verbose'] }).postgresql.create_replica_methods,
    ).toEqual([{ kind: 'basebackup', name: 'basebackup', options: ['--max-rate=100M', '--verbose'] }]);
    // The mapping form leaves out options without a value, as Patroni does.
    expect(
      configWith({ basebackup: { 'max-rate': '1M', checkpoint: '', label: 'x' } }).postgresql
        .create_replica_methods,
    ).toEqual([{ kind: 'basebackup', name: 'basebackup', options: ['--max-rate=1M', '--label=x'] }]);
  });

  it('each method with its section: command (else the name), flags, the other keys as Patroni prints them', () => {
    const methods = configWith({
      create_replica_methods: ['wal_g', 'plain', 'basebackup'],
      wal_g: { command: 'wal-g-restore --x', no_master: 1, keep_data: true, retries: 3 },
      basebackup: ['verbose'],
    }).postgresql.create_replica_methods;
    expect(methods).toEqual([
      {
        kind: 'command',
        name: 'wal_g',
        command: 'wal-g-restore --x',
        options: [
          ['no_master', '1'],
          ['keep_data', 'True'],
          ['retries', '3'],
        ],
        noParams: false,
        noLeader: true,
        keepData: true,
      },
      {
        kind: 'command',
        name: 'plain',
        command: 'plain',
        options: [],
        noParams: false,
        noLeader: false,
        keepData: false,
      },
      { kind: 'basebackup', name: 'basebackup', options: ['--verbose'] },
    ]);
    // The older singular key, as Patroni still reads it.
    expect(configWith({ create_replica_method: ['basebackup'] }).postgresql.create_replica_methods).toEqual([
      { kind: 'basebackup', name: 'basebackup', options: [] },
    ]);
  });

  it('refuses what Patroni would skip with a log line: a clear error naming the key', () => {
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ create_replica_methods: 'basebackup' }, /postgresql\.create_replica_methods: must be a list/],
      [{ create_replica_methods: ['a', 'a'] }, /create_replica_methods\[1\]: a is listed twice/],
      [{ create_replica_methods: [''] }, /create_replica_methods\[0\]: must be a method name/],
      [{ create_replica_methods: ['x'], x: 'cmd' }, /postgresql\.x: must be a mapping/],
      [{ create_replica_methods: ['x'], x: { command: "it's" } }, /postgresql\.x\.command: .*quot/i],
      [
        { create_replica_methods: ['x'], x: { keep_data: 'maybe' } },
        /postgresql\.x\.keep_data: must be a boolean/,
      ],
      [{ create_replica_methods: ['x'], x: { opts: [1] } }, /postgresql\.x\.opts: must be a scalar/],
      [{ basebackup: ['pgdata'] }, /postgresql\.basebackup\[0\]: pgdata is set by pgwarden/],
      [{ basebackup: { host: 'h' } }, /postgresql\.basebackup\.host: host is set by pgwarden/],
      [{ basebackup: [{ a: '1', b: '2' }] }, /basebackup\[0\]: must be a single key/],
      [{ basebackup: 'verbose' }, /postgresql\.basebackup: must be a list or a mapping/],
    ];
    for (const [pg, message] of bad) expect(() => configWith(pg), JSON.stringify(pg)).toThrow(message);
  });
});

describe('reading bootstrap.method', () => {
  it('initdb (or none) is initdb; a method with a command is a custom bootstrap with its recovery_conf', () => {
    expect(configWith({}).bootstrap.method).toBeNull();
    expect(configWith({}, { method: 'initdb' }).bootstrap.method).toBeNull();
    const method = configWith(
      {},
      {
        method: 'pitr',
        pitr: {
          command: '/opt/restore.sh --from s3',
          no_params: true,
          recovery_conf: {
            restore_command: 'cp /a/%f %p',
            recovery_target_action: 'promote',
            recovery_target_inclusive: false,
          },
        },
      },
    ).bootstrap.method;
    expect(method).toEqual({
      name: 'pitr',
      command: '/opt/restore.sh --from s3',
      noParams: true,
      recoveryConf: {
        restore_command: 'cp /a/%f %p',
        recovery_target_action: 'promote',
        recovery_target_inclusive: 'off',
      },
      keepExistingRecoveryConf: false,
    });
  });

  it('a method without a command is refused (Patroni would quietly run initdb instead of the restore)', () => {
    expect(() => configWith({}, { method: 'pitr' })).toThrow(/bootstrap\.pitr\.command: required/);
    expect(() => configWith({}, { method: 'pitr', pitr: { recovery_conf: {} } })).toThrow(
      /bootstrap\.pitr\.command: required/,
    );
    expect(() => configWith({}, { method: 'pitr', pitr: { command: 'x', recovery_conf: 'y' } })).toThrow(
      /bootstrap\.pitr\.recovery_conf: must be a mapping/,
    );
  });
});

describe('the plan', () => {
  const methods = configWith({
    create_replica_methods: ['restore', 'basebackup'],
    restore: { command: 'r', no_leader: true, keep_data: true },
  }).postgresql.create_replica_methods;

  it('with a member to copy: every method in order; without one: only those that need nobody', () => {
    expect(replicaPlan(methods, FROM).methods.map((m) => m.name)).toEqual(['restore', 'basebackup']);
    expect(replicaPlan(methods, null).methods.map((m) => m.name)).toEqual(['restore']);
    expect(replicaPlan([], null).methods).toEqual([]);
    expect(replicaPlan([], FROM).methods).toBe(BASEBACKUP_ONLY);
  });

  it('keeps the data directory only when the first method keeps data', () => {
    expect(keepsDataFirst(replicaPlan(methods, FROM))).toBe(true);
    expect(keepsDataFirst(replicaPlan([...methods].reverse(), FROM))).toBe(false);
  });

  it('escapes the connstring as Patroni does: a backslash before space, quote and backslash', () => {
    expect(methodConnstring(FROM, "re p'l", { sslmode: 'require', sslrootcert: '/a b/c' })).toBe(
      "dbname=postgres user=re\\ p\\'l host=10.0.0.1 port=5433 sslmode=require sslrootcert=/a\\ b/c",
    );
    expect(methodConnstring(null, 'r', {})).toBe('');
    const [restore] = methods;
    if (restore?.kind !== 'command') throw new Error('not a command method');
    expect(
      commandMethodArgs({ ...restore, noParams: true }, { scope: 's', dataDir: '/d', connstring: '' }),
    ).toEqual([]);
  });
});

// ---- Patroni as the oracle ------------------------------------------------------------------

interface Attempt {
  method: string;
  argv: string[];
}

function patroniAttempts(postgresql: Record<string, unknown>, from: boolean, codes: number[]) {
  const spec = {
    codes,
    scope: 'demo',
    data_dir: '/data/n2',
    replication: { username: 'replicator', password: 'secret', sslmode: 'require' },
    conn_url: from ? `postgres://${FROM.host}:${FROM.port}/postgres` : null,
    postgresql,
  };
  // spawns: /usr/bin/python3 (Debian's, where the patroni package lives)
  const out = execFileSync('/usr/bin/python3', [ORACLE], {
    input: JSON.stringify(spec),
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const { ret, calls } = JSON.parse(out.trim().split('\n').at(-1)!) as {
    ret: number;
    calls: Array<{ argv: string[] }>;
  };
  const attempts: Attempt[] = [];
  for (const { argv } of calls) {
    // Patroni tries pg_basebackup twice before the next method; pgwarden once per attempt.
    const attempt =
      argv[0] === 'pg_basebackup'
        ? { method: 'basebackup', argv: argv.slice(5) }
        : { method: argv[0]!, argv: argv.slice(1) };
    if (attempt.method === 'basebackup' && attempts.at(-1)?.method === 'basebackup') continue;
    attempts.push(attempt);
  }
  return { ok: ret === 0, attempts };
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** pgwarden's createReplica on a host whose commands are recorded and answered with `codes`. */
async function pgwardenAttempts(postgresql: Record<string, unknown>, from: boolean, codes: number[]) {
  const config = configWith(postgresql);
  const dir = mkdtempSync(join(tmpdir(), 'pgwarden-replica-'));
  dirs.push(dir);
  const attempts: Attempt[] = [];
  let made = false;
  const answer = (command: string) => {
    const code = codes.shift() ?? 1;
    made = code === 0;
    if (code !== 0)
      throw new CommandError(command, { code, signal: null, stdout: '', stderr: '', timedOut: false });
    return { code, signal: null, stdout: '', stderr: '', timedOut: false };
  };
  const runner = {
    check: async (binary: string, args: string[]) => {
      attempts.push({ method: 'basebackup', argv: args.slice(args.indexOf('-U') + 2) });
      return answer(binary);
    },
    checkCommand: async (argv: string[]) => {
      attempts.push({ method: argv[0]!, argv: argv.slice(1) });
      return answer(argv[0]!);
    },
  };
  const host: DataDirHost = {
    dir,
    config,
    runner: runner as unknown as Runner,
    files: new OwnedFiles(),
    longMs: 1000,
    log: () => {},
    holdsCluster: async () => made,
    postmasterPid: async () => null,
    writePgpass: async () => 'pgpass',
    configure: async () => {},
  };
  const plan = replicaPlan(config.postgresql.create_replica_methods, from ? FROM : null);
  const ok = await createReplica(host, plan).then(
    () => true,
    () => false,
  );
  return { ok, attempts };
}

describe('the same methods, order and arguments as Patroni 3.0.2', () => {
  const cases: Array<{ what: string; postgresql: Record<string, unknown>; from: boolean; codes: number[] }> =
    [
      {
        what: 'a failing method with extra keys, then a no_params method that works',
        postgresql: {
          create_replica_methods: ['broken', 'tarball', 'basebackup'],
          broken: { command: '/opt/broken --a', keep_data: true, extra: 5, ratio: 1.5 },
          tarball: { command: 'restore.sh', no_params: true, no_master: true, x: 'y z' },
        },
        from: true,
        codes: [1, 0],
      },
      {
        what: 'nobody to copy: only the no_leader method, its own scope key replaced in place',
        postgresql: {
          create_replica_methods: ['broken', 'tarball', 'basebackup'],
          broken: { command: '/opt/broken' },
          tarball: { no_leader: true, scope: 'mine', after: 'x' },
        },
        from: false,
        codes: [1],
      },
      {
        what: 'everything fails down to pg_basebackup, with options in both forms',
        postgresql: {
          create_replica_methods: ['one', 'basebackup'],
          one: {},
          basebackup: [{ 'max-rate': '100M' }, 'verbose', { label: 'a b' }],
        },
        from: true,
        codes: [1, 0],
      },
      {
        what: 'pg_basebackup alone, from the mapping form',
        postgresql: { basebackup: { 'max-rate': '5M', checkpoint: 'fast', verbose: true } },
        from: true,
        codes: [0],
      },
      {
        what: 'the older create_replica_method key',
        postgresql: { create_replica_method: ['w', 'basebackup'], w: { command: 'w --q', no_params: false } },
        from: true,
        codes: [0],
      },
    ];
  for (const c of cases) {
    it(c.what, async () => {
      const patroni = patroniAttempts(c.postgresql, c.from, [...c.codes]);
      const ours = await pgwardenAttempts(c.postgresql, c.from, [...c.codes]);
      expect(ours).toEqual(patroni);
      expect(ours.attempts.length).toBeGreaterThan(0);
    });
  }
});
