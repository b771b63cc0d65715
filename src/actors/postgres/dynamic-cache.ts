/**
 * The last /config a node applied, kept in its data directory as Patroni keeps it
 * (`patroni.dynamic.json`, the same name and JSON, so a node moving between Patroni and pgwarden
 * keeps it): an agent that starts while etcd is away starts with the cluster's ttl, loop_wait
 * and retry_timeout, not with the YAML's bootstrap values.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { OwnedFiles } from './files.ts';

export const DYNAMIC_CACHE_FILE = 'patroni.dynamic.json';

/** The cached /config, or null when there is none or it cannot be read as a JSON object. */
export async function readDynamicCache(dataDir: string): Promise<Record<string, unknown> | null> {
  let text: string;
  try {
    text = await fs.readFile(path.join(dataDir, DYNAMIC_CACHE_FILE), 'utf8');
  } catch {
    return null;
  }
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

/**
 * Replaces the cache at once (a temporary file renamed over it: a crash leaves the old or the
 * new one, never half of one). Only into an initialized data directory: initdb and
 * pg_basebackup need an empty one, as Patroni waits for its role to be known.
 */
export async function writeDynamicCache(
  dataDir: string,
  data: Record<string, unknown>,
  files: OwnedFiles,
): Promise<void> {
  const tmp = path.join(dataDir, `${DYNAMIC_CACHE_FILE}.${process.pid}.tmp`);
  await files.write(tmp, JSON.stringify(data), 0o600);
  await fs.rename(tmp, path.join(dataDir, DYNAMIC_CACHE_FILE));
}
