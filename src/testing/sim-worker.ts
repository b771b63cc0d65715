// A worker thread of the seeded runner (runSchedules in parallel.ts, which starts it).
import { workerData } from 'node:worker_threads';
import { serveSchedules } from './parallel.ts';

serveSchedules(workerData?.coverage === true);
