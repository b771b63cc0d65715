import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DYNAMIC_CACHE_FILE,
  readDynamicCache,
  writeDynamicCache,
} from '../../src/actors/postgres/dynamic-cache.ts';
import { OwnedFiles } from '../../src/actors/postgres/files.ts';

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pgwarden-cache-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('patroni.dynamic.json', () => {
  it('keeps the last /config under the name Patroni uses, readable by both', async () => {
    expect(await readDynamicCache(dir)).toBeNull();
    const config = { ttl: 12, loop_wait: 2, retry_timeout: 3, postgresql: { use_pg_rewind: true } };
    await writeDynamicCache(dir, config, new OwnedFiles());
    expect(JSON.parse(await fs.readFile(path.join(dir, DYNAMIC_CACHE_FILE), 'utf8'))).toEqual(config);
    expect(await readDynamicCache(dir)).toEqual(config);
    await writeDynamicCache(dir, { ttl: 40 }, new OwnedFiles());
    expect(await readDynamicCache(dir)).toEqual({ ttl: 40 });
    // Nothing left behind but the file itself.
    expect(await fs.readdir(dir)).toEqual([DYNAMIC_CACHE_FILE]);
    expect((await fs.stat(path.join(dir, DYNAMIC_CACHE_FILE))).mode & 0o777).toBe(0o600);
  });

  it('a file that is not a JSON object is no cache (the YAML decides), never an error', async () => {
    for (const text of ['', '{', '[1,2]', 'null', '"ttl"']) {
      await fs.writeFile(path.join(dir, DYNAMIC_CACHE_FILE), text);
      expect(await readDynamicCache(dir)).toBeNull();
    }
  });
});
