/**
 * The command line pays only for the command it runs (src/cli/main.ts, ctl/register.ts): parsing
 * loads commander and the option checks, and `--version` or `--help` none of the agent's heavy
 * dependencies. A static import of a command's module would bring them back unnoticed (0.08 s
 * became 0.55 s the last time): this reads what the compiled CLI really loaded.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const MAIN = join(import.meta.dirname, '../../dist/cli/main.js');
// Printed at exit: every CommonJS module the process loaded (the dependencies below are CommonJS).
const REPORT = `import { createRequire } from 'node:module';
const require = createRequire(${JSON.stringify(MAIN)});
process.on('exit', () => process.stderr.write('LOADED ' + JSON.stringify(Object.keys(require.cache)) + '\\n'));`;

function loadedBy(args: string[]): string[] {
  const run = spawnSync(
    process.execPath,
    ['--import', `data:text/javascript,${encodeURIComponent(REPORT)}`, MAIN, ...args],
    {
      encoding: 'utf8',
      timeout: 30_000,
    },
  );
  expect(run.status, run.stderr).toBe(0);
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

  it('the report above does see a dependency when one is loaded', () => {
    // The check must be able to fail: a command that runs the machines loads xstate.
    expect(heavyIn(loadedBy(['sim', '--seeds', '1', '--steps', '2', '--jobs', '1']))).toContain('xstate');
  });
});
