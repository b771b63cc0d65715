/** Files the actor writes into (and reads from) a data directory. */
import { promises as fs, constants as fsc } from 'node:fs';
import path from 'node:path';
import type { NodeConfig } from '../../config/types.ts';
import type { UpstreamTarget } from '../postgres.ts';
import {
  BASE_CONF,
  MANAGED_HEADER,
  RECOVERY_CONF,
  renderPgHba,
  renderPostgresqlConf,
  renderRecoveryConf,
  serverParameters,
} from './conf.ts';
import { judgePostmaster } from './postmaster-pid.ts';
import type { RunAs } from './run.ts';

/** Writes as root on behalf of the database user: everything created gets chowned to it. */
export class OwnedFiles {
  constructor(private readonly runAs?: RunAs) {}

  async write(file: string, content: string, mode: number): Promise<void> {
    await fs.writeFile(file, content, { mode });
    await fs.chmod(file, mode); // `mode` only applies when the file is created
    await this.chown(file);
  }

  async mkdir(dir: string, mode: number): Promise<void> {
    await fs.mkdir(dir, { recursive: true, mode });
    await fs.chmod(dir, mode);
    await this.chown(dir);
  }

  async chown(p: string): Promise<void> {
    if (this.runAs) await fs.chown(p, this.runAs.uid, this.runAs.gid);
  }
}

export async function exists(p: string): Promise<boolean> {
  try {
    await fs.access(p, fsc.F_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * A custom bootstrap's one private start (custom-bootstrap.ts): `recovery` settings (with
 * recovery.signal), or `keep` the signal file and settings the restore wrote; `hba` in place of
 * the configured pg_hba.conf.
 */
export interface BootstrapStart {
  recovery: Readonly<Record<string, string>> | 'keep' | null;
  hba: string;
}

/**
 * postgresql.conf, the recovery file, pg_hba.conf and the signal file for the role. The first
 * time, initdb's (or a clone's foreign) postgresql.conf becomes postgresql.base.conf.
 */
export async function configureDataDir(
  files: OwnedFiles,
  config: NodeConfig,
  standby: boolean,
  upstream: UpstreamTarget | null,
  overrides?: Record<string, string | number | boolean>,
  bootstrap?: BootstrapStart,
): Promise<void> {
  const dir = path.resolve(config.postgresql.data_dir);
  const conf = path.join(dir, 'postgresql.conf');
  const base = path.join(dir, BASE_CONF);
  if (!(await exists(base)) && (await exists(conf))) {
    const current = await fs.readFile(conf, 'utf8');
    if (!current.startsWith(MANAGED_HEADER)) await fs.rename(conf, base);
  }
  const params = serverParameters(config, overrides);
  await files.write(conf, renderPostgresqlConf(params, await exists(base)), 0o600);
  const recovery = bootstrap?.recovery;
  await files.write(
    path.join(dir, RECOVERY_CONF),
    // A standby's own recovery settings (postgresql.recovery_conf), else a custom bootstrap's.
    renderRecoveryConf(
      config,
      upstream,
      recovery === 'keep' ? null : (recovery ?? (standby ? config.postgresql.recovery_conf : null)),
    ),
    0o600,
  );
  await files.write(path.join(dir, 'pg_hba.conf'), bootstrap?.hba ?? renderPgHba(config), 0o600);
  if (recovery === 'keep') return;
  const recoverySignal = path.join(dir, 'recovery.signal');
  if (recovery) await files.write(recoverySignal, '', 0o600);
  else await fs.rm(recoverySignal, { force: true });
  const signal = path.join(dir, 'standby.signal');
  if (standby) await files.write(signal, '', 0o600);
  else await fs.rm(signal, { force: true });
}

/**
 * The postmaster's pid when postmaster.pid names the live postmaster that wrote it, else null;
 * `refused` says why a live process the file names was not taken for it (judgePostmaster).
 */
export async function postmasterPid(dataDir: string): Promise<{ pid: number | null; refused?: string }> {
  let text: string;
  try {
    text = await fs.readFile(path.join(dataDir, 'postmaster.pid'), 'utf8');
  } catch {
    return { pid: null };
  }
  return judgePostmaster(text);
}
