/** `pgwarden node <config.yml>`: run one agent until SIGTERM/SIGINT. */

import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { EtcdDcs } from '../actors/etcd-dcs.ts';
import { DEFAULT_JOURNAL_BYTES, Journal } from '../actors/journal.ts';
import { PostgresProcess } from '../actors/postgres-process.ts';
import { Agent } from '../agent.ts';
import { type EtcdClientOptions, EtcdFileError, etcdClientOptions } from '../config/etcd-access.ts';
import { ConfigError, dynamicConfigFrom, loadConfig } from '../config/load.ts';
import type { NodeConfig } from '../config/types.ts';
import { CliError } from './errors.ts';

export interface NodeCommandOptions {
  /** A file; false (`--no-journal`): memory only; unset: next to the data directory. */
  journal?: string | false;
  /** MiB on disk for the journal, all rotated files together (default 64). */
  journalSize?: string;
}

/** `--journal-size`: whole MiB, at least 1. */
function journalBytes(text: string | undefined): number {
  if (text === undefined) return DEFAULT_JOURNAL_BYTES;
  if (!/^\d+$/.test(text) || Number(text) < 1) {
    throw new CliError(`--journal-size must be a whole number of MiB, at least 1 (got '${text}')`, 2);
  }
  return Number(text) * 1024 * 1024;
}

/**
 * Where the journal goes unless told: beside the data directory (`<parent>/<name>.journal`), a
 * place the PostgreSQL OS user can write and that survives a new clone of the data directory.
 */
export function defaultJournalPath(config: NodeConfig): string {
  return join(dirname(resolve(config.postgresql.data_dir)), `${config.name}.journal`);
}

/**
 * The journal this agent writes. An explicit --journal that cannot be opened is an error; the
 * default place, when it cannot be written, costs only the file (said in the log).
 */
export function openJournal(
  config: NodeConfig,
  opts: NodeCommandOptions,
  maxBytes: number,
  log: (m: string) => void,
): Journal {
  const onError = log;
  if (opts.journal === false) return new Journal({ maxBytes, onError });
  const explicit = typeof opts.journal === 'string';
  const path = explicit ? (opts.journal as string) : defaultJournalPath(config);
  try {
    // The data directory may not exist yet (a first start clones it): its parent is made, one
    // level only (Node's recursive mkdir never returns on /proc-like file systems).
    if (!explicit && !existsSync(dirname(path))) mkdirSync(dirname(path), { mode: 0o700 });
    return new Journal({ path, maxBytes, onError });
  } catch (err) {
    const why = `cannot open the journal ${path}: ${(err as Error).message}`;
    if (explicit) throw new CliError(why, 2);
    log(`${why}; it is kept in memory only (--journal FILE puts it elsewhere)`);
    return new Journal({ maxBytes, onError });
  }
}

function logger(name: string): (msg: string) => void {
  return (msg) => process.stdout.write(`${new Date().toISOString()} ${name} INFO: ${msg}\n`);
}

export async function runNode(file: string, opts: NodeCommandOptions): Promise<number> {
  let config: NodeConfig;
  const maxBytes = journalBytes(opts.journalSize);
  try {
    config = loadConfig({ file });
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(`invalid configuration: ${err.message}`, 2);
    throw err;
  }
  if (process.getuid?.() === 0) {
    throw new CliError(
      'PostgreSQL refuses to run as root: start pgwarden as the PostgreSQL OS user, e.g. `runuser -u postgres -- pgwarden node <config>`',
      2,
    );
  }
  const log = logger(config.name);
  let etcd: EtcdClientOptions;
  try {
    etcd = etcdClientOptions(config.etcd3);
  } catch (err) {
    if (err instanceof EtcdFileError) throw new CliError(`invalid configuration: ${err.message}`, 2);
    throw err;
  }
  const dcs = new EtcdDcs({
    ...etcd,
    namespace: config.namespace,
    scope: config.scope,
    // Until /config is read, bootstrap.dcs (or Patroni's default) is the best guess.
    retryTimeoutSeconds: dynamicConfigFrom(config.bootstrap.dcs, config).retry_timeout,
    log,
  });
  const postgres = new PostgresProcess({ config, log });
  const journal = openJournal(config, opts, maxBytes, log);
  const agent = new Agent({
    config,
    dcs,
    postgres,
    log,
    journal,
  });

  let lastMessage = '';
  agent.actor.subscribe((snap) => {
    const m = snap.context.message;
    if (m !== lastMessage) {
      lastMessage = m;
      log(m);
    }
  });

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`received ${signal}, shutting down`);
    void agent.stop();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGHUP', () => {
    log('received SIGHUP, reloading the configuration');
    void agent.reload();
  });

  await agent.start();
  log(`REST API on http://${config.restapi.listen.host}:${config.restapi.listen.port}`);
  await agent.finished();
  const ctx = agent.actor.getSnapshot().context;
  await agent.close();
  if (ctx.fatal) {
    process.stderr.write(`${config.name}: ${ctx.fatal}\n`);
    return 1;
  }
  return 0;
}
