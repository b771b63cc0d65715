/**
 * The fence against a real PostgreSQL 15 that admits the superuser over TLS only (`hostssl` in
 * pg_hba.conf, `ssl = on`, a certificate made here with openssl for 127.0.0.1): the superuser's
 * libpq options decide how the fence connects (src/actors/postgres/client-tls.ts), as they decide
 * for pg_basebackup and pg_rewind. Before, the fence spoke plain TCP only, and such a server's
 * orphan primary could not be fenced at all.
 */
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MANAGED_HEADER } from '../../src/actors/postgres/conf.ts';
import { fencePostgres } from '../../src/actors/postgres/fence.ts';
import { FENCE_SESSION_WAIT_MS, type FenceRule } from '../../src/cluster/orphans.ts';
import { freePort } from '../../src/local/ports.ts';
import { TEST_PG_BIN_DIR } from '../helpers/pg-config.ts';
import { stopPostgresNow } from '../helpers/pg-stop.ts';
import { describeWith, osUser, program, root } from '../helpers/prerequisites.ts';

const RULE: FenceRule = {
  belowTimeline: null,
  systemIdentifier: null,
  sessionWaitMs: FENCE_SESSION_WAIT_MS.watch,
};
const PASSWORD = 'tls-super';

function asPostgres(cmd: string, args: string[]): string {
  return execFileSync('runuser', ['-u', 'postgres', '--', cmd, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
}

/** A self-signed certificate for `cn`, valid for 127.0.0.1, written as `<name>.crt` and `<name>.key`. */
function certificate(dir: string, name: string, cn: string): { crt: string; key: string } {
  const crt = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${cn}`,
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      crt,
    ],
    { stdio: 'ignore', timeout: 60_000 },
  );
  return { crt, key };
}

describeWith(
  [
    root('PostgreSQL runs as the postgres OS user'),
    osUser('postgres'),
    program(path.join(TEST_PG_BIN_DIR, 'pg_ctl'), 'postgresql-15'),
    program('/usr/bin/openssl', 'openssl'),
  ],
  'the fence over TLS, by the superuser libpq options (real PostgreSQL 15, hostssl only)',
  () => {
    let tmp = '';
    let dataDir = '';
    let port = 0;
    let server: { crt: string; key: string };
    let stranger: { crt: string; key: string };
    const target = () => ({ name: 'orphan', host: '127.0.0.1', port });
    const su = (options: Record<string, string> = {}) => ({
      username: 'postgres',
      password: PASSWORD,
      ...options,
    });

    beforeAll(async () => {
      tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'pgwarden-fence-tls-'));
      execFileSync('chown', ['postgres:postgres', tmp]);
      dataDir = path.join(tmp, 'data');
      port = await freePort();
      server = certificate(tmp, 'server', 'pgwarden test server');
      stranger = certificate(tmp, 'stranger', 'somebody else');
      for (const f of [server.crt, server.key]) execFileSync('chown', ['postgres:postgres', f]);
      await fs.chmod(server.key, 0o600);
      const pwfile = path.join(tmp, 'pw');
      await fs.writeFile(pwfile, PASSWORD);
      execFileSync('chown', ['postgres:postgres', pwfile]);
      asPostgres(path.join(TEST_PG_BIN_DIR, 'initdb'), [
        '-D',
        dataDir,
        '-U',
        'postgres',
        '--pwfile',
        pwfile,
        '-A',
        'scram-sha-256',
      ]);
      // The fence leaves alone a server whose configuration pgwarden did not write.
      await fs.writeFile(
        path.join(dataDir, 'postgresql.conf'),
        [
          MANAGED_HEADER,
          `port = ${port}`,
          `listen_addresses = '127.0.0.1'`,
          `unix_socket_directories = '${tmp}'`,
          'ssl = on',
          `ssl_cert_file = '${server.crt}'`,
          `ssl_key_file = '${server.key}'`,
          '',
        ].join('\n'),
      );
      await fs.writeFile(
        path.join(dataDir, 'pg_hba.conf'),
        [
          'local all all trust',
          'hostssl all all 127.0.0.1/32 scram-sha-256',
          'host all all 127.0.0.1/32 reject',
          '',
        ].join('\n'),
      );
      asPostgres(path.join(TEST_PG_BIN_DIR, 'pg_ctl'), [
        'start',
        '-D',
        dataDir,
        '-w',
        '-t',
        '30',
        '-l',
        path.join(tmp, 'log'),
      ]);
    }, 120_000);

    afterAll(async () => {
      if (dataDir) stopPostgresNow(dataDir);
      if (tmp) await fs.rm(tmp, { recursive: true, force: true });
    });

    async function writable(): Promise<boolean> {
      const c = new pg.Client({ host: tmp, port, user: 'postgres', database: 'postgres' });
      await c.connect();
      try {
        const r = await c.query<{ ro: string }>(
          `SELECT current_setting('default_transaction_read_only') AS ro`,
        );
        return r.rows[0]?.ro === 'off';
      } finally {
        await c.end();
      }
    }

    it('sslmode disable: no session (pg_hba wants TLS), so nothing fenced', async () => {
      await expect(fencePostgres(target(), RULE, su({ sslmode: 'disable' }), 'test')).rejects.toThrow(
        /pg_hba\.conf/,
      );
      expect(await writable()).toBe(true);
    });

    it("verify-full with somebody else's root certificate: refused, nothing fenced", async () => {
      await expect(
        fencePostgres(target(), RULE, su({ sslmode: 'verify-full', sslrootcert: stranger.crt }), 'test'),
      ).rejects.toThrow(/certificate/);
      expect(await writable()).toBe(true);
    });

    it('the default (prefer): fenced over TLS — its sessions end, new transactions are read-only', async () => {
      expect(await fencePostgres(target(), RULE, su(), 'test')).toMatchObject({ fenced: true });
      expect(await writable()).toBe(false);
    });

    it("verify-full with the server's own root certificate: a session, which finds it fenced already", async () => {
      expect(
        await fencePostgres(target(), RULE, su({ sslmode: 'verify-full', sslrootcert: server.crt }), 'test'),
      ).toEqual({
        fenced: false,
        reason: 'read-only already',
      });
    });
  },
);
