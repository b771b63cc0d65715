/**
 * vitest's global setup: the tests that start agents run bin/pgwarden.js, which runs the compiled
 * dist/; build it first when a source is newer, so a test never runs yesterday's agent.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const script = fileURLToPath(new URL('../../scripts/build.mjs', import.meta.url));
  const run = spawnSync(process.execPath, [script, '--if-stale'], { stdio: 'inherit' });
  if (run.status !== 0) throw new Error('npm run build failed: the tests would run an old dist/');
}
