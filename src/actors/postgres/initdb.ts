/**
 * A new cluster by initdb (bootstrap.initdb's options), its roles made while the server listens
 * on a private socket only, left stopped and configured as a primary.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initdbArgs } from './conf.ts';
import { pgCtlStart, pgCtlStopPrivate } from './pg-ctl.ts';
import type { DataDirHost } from './replica.ts';
import { ensureRoles } from './roles.ts';

export async function initdbCluster(h: DataDirHost, initialized: boolean): Promise<void> {
  if (initialized) throw new Error(`initdb: ${h.dir} is not empty`);
  await h.files.mkdir(h.dir, 0o700);
  const su = h.config.postgresql.authentication.superuser;
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'pgwarden-initdb-'));
  await h.files.chown(tmp);
  try {
    const args = ['-D', h.dir, `--username=${su.username}`];
    if (su.password !== undefined) {
      const pwfile = path.join(tmp, 'pwfile');
      await h.files.write(pwfile, `${su.password}\n`, 0o600);
      args.push(`--pwfile=${pwfile}`);
    }
    args.push(...initdbArgs(h.config.bootstrap.initdb));
    h.log(`initdb ${h.dir}`);
    // The cluster's locale comes from the environment, so no forced C locale here.
    await h.runner.check('initdb', args, { timeoutMs: h.longMs, englishMessages: false });
    // Socket-only start in a private directory: nobody else can reach it while roles are created.
    await h.configure(false, null, { listen_addresses: '', unix_socket_directories: tmp });
    await pgCtlStart(h.runner, h.dir, h.config, 60);
    try {
      await ensureRoles(h.config, tmp, { superuser: false });
    } finally {
      await pgCtlStopPrivate(h.runner, h.dir);
    }
    await h.configure(false, null);
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}
