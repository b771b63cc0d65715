/**
 * Starts a throwaway single-node etcd on loopback ports (the demo, tests and benchmarks share
 * it), on ports from ports.ts.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { peerRequest } from '../transport/http-request.ts';
import { readPeerTls } from '../transport/peer-tls.ts';
import { freePort } from './ports.ts';

export interface EtcdHandle {
  endpoint: string;
  pid: number;
  dataDir: string;
  /** Kills etcd (SIGTERM, SIGKILL after 3 s); removes the data dir unless `keepData`. */
  stop(opts?: { keepData?: boolean }): Promise<void>;
}

export interface StartEtcdOptions {
  /** Reuse a data dir (and ports) to restart a stopped etcd with its data; stop() leaves it. */
  dataDir?: string;
  clientPort?: number;
  peerPort?: number;
  binary?: string;
  startTimeoutMs?: number;
  /** The address etcd listens on and advertises (default 127.0.0.1). */
  host?: string;
  /**
   * Argument vector that etcd's command line is appended to, e.g. `ip netns exec NS` to run it
   * in a network namespace. It must exec in place, so that the pid stays etcd's own.
   */
  prefix?: string[];
  /** Member name (default `pgwarden-test`) and the whole `--initial-cluster` (default: this member alone). */
  name?: string;
  initialCluster?: string;
  /** Wait until /health answers true (default). A member of a cluster without quorum never does. */
  waitHealthy?: boolean;
  /**
   * Clients over https only, with a certificate from this CA required (`--client-cert-auth`);
   * `client` is the certificate this module's own health check shows.
   */
  tls?: { cafile: string; certfile: string; keyfile: string; client: { certfile: string; keyfile: string } };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function healthy(endpoint: string, tls: StartEtcdOptions['tls']): Promise<boolean> {
  try {
    const res = await peerRequest(new URL(`${endpoint}/health`), {
      timeoutMs: 1000,
      ...(tls
        ? {
            tls: readPeerTls({
              cafile: tls.cafile,
              certfile: tls.client.certfile,
              keyfile: tls.client.keyfile,
              insecure: false,
            }),
          }
        : {}),
    });
    const body = JSON.parse(res.text) as { health?: string };
    return res.status === 200 && body.health === 'true';
  } catch {
    return false;
  }
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (exited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

export async function startEtcd(opts: StartEtcdOptions = {}): Promise<EtcdHandle> {
  const ownDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? join(await mkdtemp(join(tmpdir(), 'pgwarden-etcd-')), 'data');
  const clientPort = opts.clientPort ?? (await freePort());
  const peerPort = opts.peerPort ?? (await freePort());
  const host = opts.host ?? '127.0.0.1';
  const endpoint = `${opts.tls ? 'https' : 'http'}://${host}:${clientPort}`;
  const peer = `http://${host}:${peerPort}`;
  const argv = [
    ...(opts.prefix ?? []),
    opts.binary ?? '/usr/bin/etcd',
    '--name',
    opts.name ?? 'pgwarden-test',
    '--data-dir',
    dataDir,
    '--listen-client-urls',
    endpoint,
    '--advertise-client-urls',
    endpoint,
    '--listen-peer-urls',
    peer,
    '--initial-advertise-peer-urls',
    peer,
    '--initial-cluster',
    opts.initialCluster ?? `${opts.name ?? 'pgwarden-test'}=${peer}`,
    '--initial-cluster-state',
    'new',
    '--log-level',
    'error',
    ...(opts.tls
      ? [
          '--cert-file',
          opts.tls.certfile,
          '--key-file',
          opts.tls.keyfile,
          '--trusted-ca-file',
          opts.tls.cafile,
          '--client-cert-auth',
        ]
      : []),
  ];
  // spawns: - (etcd, found by its path above; a prefix's program is named where its caller builds it)
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  child.on('error', () => {});
  const pid = child.pid ?? -1;

  const stop = async (stopOpts: { keepData?: boolean } = {}) => {
    if (!exited(child)) {
      child.kill('SIGTERM');
      if (!(await waitExit(child, 3000))) {
        child.kill('SIGKILL');
        await waitExit(child, 3000);
      }
    }
    if (ownDir && !stopOpts.keepData) await rm(join(dataDir, '..'), { recursive: true, force: true });
  };

  const deadline = Date.now() + (opts.startTimeoutMs ?? 15_000);
  while (opts.waitHealthy !== false && !(await healthy(endpoint, opts.tls))) {
    if (exited(child) || Date.now() > deadline) {
      await stop();
      throw new Error(`etcd did not come up on ${endpoint}: ${stderr.trim() || 'no output'}`);
    }
    await sleep(100);
  }
  return { endpoint, pid, dataDir, stop };
}
