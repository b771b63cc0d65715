// A worker thread of the seeded runner (runSchedules in parallel.ts). The sources are
// TypeScript, run through tsx as in bin/pgwarden.js: a worker thread needs its own loader.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { serveSchedules } = await import('./parallel.ts');
serveSchedules(workerData?.coverage === true);
