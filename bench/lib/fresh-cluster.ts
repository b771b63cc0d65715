/** A benchmark's fresh local cluster: made, started, handed over, then stopped and removed. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster, type LocalClusterOptions } from '../../src/local/cluster.ts';

/**
 * A cluster in a new temp dir named after `name`, its agents started (at `spawnedAt`), given to
 * `fn`; stopped and its dir removed whatever happens. The error `fn` (or the start) threw, as a
 * message, or null.
 */
export async function onFreshCluster(
  name: string,
  options: Omit<LocalClusterOptions, 'dir'>,
  fn: (cluster: LocalCluster, spawnedAt: number) => Promise<void>,
): Promise<string | null> {
  const dir = mkdtempSync(join(tmpdir(), `pgwarden-${name}-`));
  const cluster = new LocalCluster({ ...options, dir });
  try {
    await cluster.init();
    const spawnedAt = Date.now();
    await cluster.startAll();
    await fn(cluster, spawnedAt);
    return null;
  } catch (err) {
    return (err as Error).message;
  } finally {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Waits for one leader and streaming replicas, or throws. */
export async function ready(cluster: LocalCluster): Promise<void> {
  if (!(await cluster.waitUntilReady({ timeoutMs: 120_000 }))) throw new Error('not ready within 120 s');
}

/** `--name value` from the command line, or the fallback. */
export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
