#!/usr/bin/env node
// `npm run build`: compiles src/ to dist/ (JavaScript and declarations, tsconfig.build.json), so
// that an agent runs no TypeScript compiler, tsx or esbuild. Plain JavaScript: it runs before
// anything is compiled, and bin/pgwarden.js asks it (in a source checkout) whether dist/ is
// older than the sources.
//
//   node scripts/build.mjs              build
//   node scripts/build.mjs --if-stale   build only if dist/ is missing or older than a source
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
/** What the output depends on besides src/. */
const INPUTS = ['tsconfig.json', 'tsconfig.build.json'];

/**
 * Why dist/ cannot be trusted to match the sources, or null when it can. dist/.built is written
 * last by a build that succeeded; a source edited since is newer, and a source added or removed
 * since leaves its directory newer.
 */
export function staleReason(root = ROOT) {
  const stamp = join(root, 'dist', '.built');
  if (!existsSync(stamp)) return 'pgwarden is not built (no dist/)';
  const built = statSync(stamp).mtimeMs;
  for (const input of INPUTS) {
    if (statSync(join(root, input)).mtimeMs > built) return `${input} changed since the last build`;
  }
  const src = join(root, 'src');
  if (statSync(src).mtimeMs > built) return 'a file of src/ was added or removed since the last build';
  for (const entry of readdirSync(src, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    if (statSync(path).mtimeMs > built) return `${path.slice(root.length)} changed since the last build`;
  }
  return null;
}

/** Compile into a fresh directory, then swap it in: a failed build leaves the old dist/ whole. */
export function build(root = ROOT) {
  const next = join(root, 'dist.next');
  const old = join(root, 'dist.old');
  rmSync(next, { recursive: true, force: true });
  const tsc = spawnSync(join(root, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.build.json', '--outDir', next], {
    cwd: root,
    stdio: 'inherit',
  });
  if (tsc.status !== 0) {
    rmSync(next, { recursive: true, force: true });
    return false;
  }
  writeFileSync(join(next, '.built'), `${new Date().toISOString()}\n`);
  rmSync(old, { recursive: true, force: true });
  if (existsSync(join(root, 'dist'))) renameSync(join(root, 'dist'), old);
  renameSync(next, join(root, 'dist'));
  rmSync(old, { recursive: true, force: true });
  return true;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const ifStale = process.argv.includes('--if-stale');
  const reason = staleReason();
  if (ifStale && !reason) process.exit(0);
  if (ifStale) process.stderr.write(`building dist/: ${reason}\n`);
  process.exit(build() ? 0 : 1);
}
