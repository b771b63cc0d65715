/**
 * Every package the code imports is declared in package.json: Biome's noUndeclaredDependencies
 * (biome.json; `npm run check` runs it). src/ and bin/ may import only `dependencies` (what
 * `npm install pgwarden` brings); test/, bench/ and vitest.config.ts also `devDependencies`.
 * cockatiel was imported by src/actors/etcd-dcs.ts while present only as a dependency of etcd3.
 * This test shows the rule fires, on a copy of the project's configuration.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, expect, it } from 'vitest';

const REPO = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'pgwarden-deps-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function lint(files: Record<string, string>): string {
  const config = JSON.parse(readFileSync(join(REPO, 'biome.json'), 'utf8')) as Record<string, unknown>;
  delete config['$schema'];
  writeFileSync(join(dir, 'biome.json'), JSON.stringify(config));
  cpSync(join(REPO, 'package.json'), join(dir, 'package.json'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  const r = spawnSync(
    join(REPO, 'node_modules/.bin/biome'),
    ['lint', '--max-diagnostics=50', ...Object.keys(files)],
    { cwd: dir, encoding: 'utf8' },
  );
  return `${r.stdout}${r.stderr}`;
}

it('flags an undeclared package, and a devDependency imported by production code', () => {
  const out = lint({
    'src/planted.ts': [
      "import fc from 'fast-check';",
      "import { retry } from 'cockatiel';",
      "import leftPad from 'left-pad';",
      "import { readFileSync } from 'node:fs';",
      "import { setup } from 'xstate';",
      'console.log(fc, retry, leftPad, readFileSync, setup);',
    ].join('\n'),
    'test/planted.test.ts':
      "import fc from 'fast-check';\nimport { it } from 'vitest';\nconsole.log(fc, it);\n",
  });
  const flagged = [...out.matchAll(/Dependency (\S+) isn't specified/g)].map((m) => m[1]);
  expect(flagged).toEqual(['fast-check', 'left-pad']);
  expect(out).toContain('src/planted.ts:1');
  expect(out).not.toContain('test/planted.test.ts');
});
