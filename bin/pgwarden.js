#!/usr/bin/env node
// Runs the compiled JavaScript of dist/ (`npm run build`): no TypeScript compiler at run time. In
// a source checkout (src/ beside dist/), a dist/ older than the sources is refused rather than run.
import { existsSync } from 'node:fs';

if (existsSync(new URL('../src/', import.meta.url))) {
  const { staleReason } = await import('../scripts/build.mjs');
  const reason = staleReason();
  if (reason) {
    process.stderr.write(`pgwarden: ${reason}: run npm run build\n`);
    process.exit(1);
  }
}
await import('../dist/cli/main.js');
