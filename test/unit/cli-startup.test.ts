/**
 * The command line pays only for the command it runs (src/cli/main.ts, ctl/register.ts): parsing
 * loads commander and the option checks, and `--version` or `--help` none of the agent's heavy
 * dependencies. A static import of a command's module would bring them back unnoticed (0.08 s
 * became 0.55 s the last time): this reads what the compiled CLI really loaded.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const MAIN = join(import.meta.dirname, '../../dist/cli/main.js');
// Printed at exit: every CommonJS module the process loaded (the dependencies below are CommonJS).
const REPORT = `import { createRequire } from 'node:module';
const require = createRequire(${JSON.stringify(MAIN)});
process.on('exit', () => process.stderr.write('LOADED ' + JSON.stringify(Object.keys(require.cache)) + '\\n'));`;

function loadedBy(args: string[], status = 0): string[] {
  const run = spawnSync(
    process.execPath,
    ['--import', `data:text/javascript,${encodeURIComponent(REPORT)}`, MAIN, ...args],
    {
      encoding: 'utf8',
      timeout: 30_000,
    },
  );
  expect(run.status, run.stderr).toBe(status);
  const line = run.stderr.split('\n').find((l) => l.startsWith('LOADED '));
  return JSON.parse(line!.slice('LOADED '.length)) as string[];
}

const HEAVY = ['etcd3', '@grpc', 'fastify', 'xstate', 'pg', 'ws', 'msgpackr', 'yaml'];
const heavyIn = (files: string[]) =>
  HEAVY.filter((dep) => files.some((f) => f.includes(`/node_modules/${dep}/`)));

describe('what the command line loads', () => {
  it('--version and --help load none of the agent dependencies', () => {
    expect(heavyIn(loadedBy(['--version']))).toEqual([]);
    expect(heavyIn(loadedBy(['--help']))).toEqual([]);
  });

  it('list reads etcd without the gRPC client (etcd3, @grpc): over the JSON gateway', async () => {
    // A port nobody listens on: the read fails after retry_timeout, having loaded what it needs.
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const dir = mkdtempSync(join(tmpdir(), 'pgwarden-cli-'));
    try {
      const file = join(dir, 'ctl.yml');
      writeFileSync(file, `scope: demo\nretry_timeout: 1\netcd3: {hosts: '127.0.0.1:${port}'}\n`);
      const loaded = loadedBy(['list', '-c', file], 1);
      expect(heavyIn(loaded)).toEqual(['yaml']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the report above does see a dependency when one is loaded', () => {
    // The check must be able to fail: a command that runs the machines loads xstate.
    expect(heavyIn(loadedBy(['sim', '--seeds', '1', '--steps', '2', '--jobs', '1']))).toContain('xstate');
  });
});
