/**
 * What `npm pack` puts in the package: what an agent and the CLI run (bin/, the compiled dist/,
 * the visualizer's pages, the systemd unit), nothing of the sources, tests, benchmarks or
 * scripts; every import in it resolves inside the package or to a runtime dependency.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AGENT_NODE_FLAGS } from '../../src/local/agent-node-flags.ts';

const ROOT = join(import.meta.dirname, '../..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

function packedFiles(): string[] {
  // --ignore-scripts: the list of the dist/ the tests' global setup built, without building again.
  const run = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(run.status, run.stderr).toBe(0);
  return (JSON.parse(run.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
}

/** The package a bare specifier names: `pg`, `@fastify/swagger`, `elkjs/lib/x.js` → `elkjs`. */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
}

/** Static imports and re-exports, and dynamic imports of a literal, of one module's text. */
function importsOf(text: string): string[] {
  const found: string[] = [];
  const fromClause =
    /^(?:import|export)\s+(?:type\s+)?(?:[\w$]+\s*,?\s*)?(?:\*(?:\s+as\s+[\w$]+)?|\{[^}]*\})?\s*from\s*['"]([^'"]+)['"]/gm;
  for (const m of text.matchAll(fromClause)) found.push(m[1]!);
  for (const m of text.matchAll(/^import\s*['"]([^'"]+)['"]/gm)) found.push(m[1]!);
  for (const m of text.matchAll(/\bawait import\(\s*['"]([^'"]+)['"]\s*\)/g)) found.push(m[1]!);
  return found;
}

describe('the npm package', () => {
  const files = packedFiles();
  const packed = new Set(files);

  it('holds what runs: the bin, the compiled CLI and agent, the pages, the systemd unit', () => {
    for (const f of [
      'package.json',
      'README.md',
      'bin/pgwarden.js',
      'dist/cli/main.js',
      'dist/agent.js',
      'dist/agent.d.ts',
      'dist/testing/sim-worker.js',
      'visualizations/index.html',
      'visualizations/app.js',
      'visualizations/style.css',
      'contrib/pgwarden.service',
    ])
      expect(packed, f).toContain(f);
  });

  it('holds no sources, tests, benchmarks, scripts or build stamp', () => {
    const allowed =
      /^(package\.json|README\.md|bin\/pgwarden\.js|dist\/.+\.(js|d\.ts)|visualizations\/[^/]+|contrib\/[^/]+)$/;
    expect(files.filter((f) => !allowed.test(f))).toEqual([]);
    expect(files.filter((f) => /\.ts$/.test(f) && !/\.d\.ts$/.test(f))).toEqual([]);
  });

  it('every import of its JavaScript resolves inside it, or to a builtin or a runtime dependency', () => {
    const runtime = new Set(Object.keys(pkg.dependencies));
    const problems: string[] = [];
    for (const file of files.filter((f) => f.endsWith('.js'))) {
      for (const spec of importsOf(readFileSync(join(ROOT, file), 'utf8'))) {
        if (spec.startsWith('.')) {
          const target = normalize(join(dirname(file), spec));
          // bin/ reads the build state of scripts/ only in a source checkout (src/ beside dist/).
          if (file === 'bin/pgwarden.js' && target === 'scripts/build.mjs') continue;
          if (!packed.has(target)) problems.push(`${file}: ${spec} is not in the package`);
        } else if (!spec.startsWith('node:') && !builtinModules.includes(spec)) {
          if (!runtime.has(packageOf(spec))) problems.push(`${file}: ${spec} is not a runtime dependency`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('runs nothing of the TypeScript tool chain', () => {
    // tsx (and esbuild with it) and the compiler are for tests and benchmarks only.
    for (const tool of ['tsx', 'typescript']) expect(Object.keys(pkg.devDependencies)).toContain(tool);
    for (const tool of ['tsx', 'typescript', 'esbuild'])
      expect(Object.keys(pkg.dependencies)).not.toContain(tool);
  });

  it('reads imports as the check above needs', () => {
    const text = [
      "import { a } from './a.js';",
      "import type { B } from './b.js';",
      "export { c } from '../c.js';",
      "export * from './d.js';",
      "import e, { f,\n  g } from 'e-pkg';",
      "import * as h from 'node:fs';",
      "import 'side-effect';",
      "export const NAME = 'not-an-import';",
      "  const m = await import('./lazy.js');",
      "const code = `import('./only-in-a-string.js')`;",
    ].join('\n');
    expect(importsOf(text)).toEqual([
      './a.js',
      './b.js',
      '../c.js',
      './d.js',
      'e-pkg',
      'node:fs',
      'side-effect',
      './lazy.js',
    ]);
  });

  it("the systemd unit runs the agent with the flags this project's own clusters use", () => {
    const unit = readFileSync(join(ROOT, 'contrib/pgwarden.service'), 'utf8');
    expect(unit).toMatch(/^KillMode=process$/m);
    expect(/^Environment=NODE_OPTIONS=(.*)$/m.exec(unit)?.[1]).toBe(AGENT_NODE_FLAGS.join(' '));
    expect(unit).toMatch(/^ExecStart=\S*pgwarden node /m);
    expect(unit).toMatch(/^ExecReload=\/bin\/kill -s HUP \$MAINPID$/m);
  });
});
