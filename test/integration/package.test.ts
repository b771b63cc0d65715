/**
 * The package as an operator installs it: `npm pack`, then `npm install -g` of the tarball into a
 * fresh prefix (from npm's cache, which the install of this checkout filled), and the installed
 * `pgwarden` runs an agent that bootstraps a node on real etcd and PostgreSQL, and lists it —
 * with none of the TypeScript tool chain installed beside it.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { eventually, useLocalCluster } from '../helpers/cluster-tools.ts';
import { describeWith, root } from '../helpers/prerequisites.ts';

const ROOT = join(import.meta.dirname, '../..');
const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
let dir = '';
let bin = '';

function run(cmd: string, args: string[], timeoutMs: number) {
  // spawns: npm node (the installed pgwarden, a node script)
  return spawnSync(cmd, args, { cwd: dir, encoding: 'utf8', timeout: timeoutMs, env: { ...process.env } });
}

// Registered before the cluster's hooks: the agents it starts are the installed command.
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pgwarden-package-'));
  // The agents run as the postgres OS user: the installed tree must be readable by it.
  chmodSync(dir, 0o755);
  const pack = spawnSync('npm', ['pack', '--json', '--pack-destination', dir], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
  });
  expect(pack.status, pack.stderr).toBe(0);
  const tarball = join(dir, (JSON.parse(pack.stdout) as { filename: string }[])[0]!.filename);
  const install = run(
    'npm',
    [
      'install',
      '-g',
      '--prefix',
      join(dir, 'prefix'),
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      tarball,
    ],
    300_000,
  );
  expect(install.status, install.stderr).toBe(0);
  bin = join(dir, 'prefix', 'bin', 'pgwarden');
}, 420_000);

const clusterOf = useLocalCluster(
  { nodes: 1, scope: 'packaged', agentArgv: (node) => [bin, 'node', node.configFile] },
  { beforeAll, afterAll, afterEach },
);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describeWith([root('the agent runs as the postgres OS user')], 'the installed package', () => {
  it('has the command and its runtime dependencies, not the TypeScript tool chain', () => {
    const out = run(bin, ['--version'], 30_000);
    expect(out.status, out.stderr).toBe(0);
    expect(out.stdout.trim()).toBe(version);
    const installed = join(dir, 'prefix', 'lib', 'node_modules', 'pgwarden');
    expect(existsSync(join(installed, 'dist', 'cli', 'main.js'))).toBe(true);
    expect(existsSync(join(installed, 'src'))).toBe(false);
    const modules = readdirSync(join(installed, 'node_modules'));
    expect(modules).toContain('etcd3');
    for (const tool of ['tsx', 'typescript', 'esbuild', 'vitest']) expect(modules).not.toContain(tool);
  });

  it('runs an agent that bootstraps the node, and lists it', async () => {
    const node = clusterOf().nodes[0]!;
    await eventually(
      'the installed pgwarden lists node1 as the running leader',
      async () => {
        const out = run(bin, ['-c', node.configFile, 'list'], 30_000);
        expect(out.status, out.stderr).toBe(0);
        expect(out.stdout).toMatch(/\| node1\s+\| 127\.0\.0\.1:\d+ \| Leader \| running \|\s+1 \|/);
      },
      20_000,
    );
  });
});
