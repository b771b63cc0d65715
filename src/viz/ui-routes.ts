/**
 * The visualizer's pages and data, as a fastify plugin: on every agent (live: GET /ui, charts,
 * a token for the stream WebSocket) and in `pgwarden viz --journal` (journal mode: the same page
 * and the journals' transitions). Every route is operator-only (the same checks as mutating
 * routes: allowlist, client certificate, Basic auth); the assets ship in the package
 * (`visualizations/`, msgpackr's browser build), nothing is fetched from the internet.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { VizTransition } from '../replay/transitions.ts';
import { machineCharts } from './charts.ts';

export type VizSource =
  | { mode: 'live'; scope: string; node: string; token: () => string }
  | { mode: 'journal'; files: string[]; members: string[]; transitions: VizTransition[] };

const PAGE_DIR = new URL('../../visualizations/', import.meta.url);

/** The page's files, read once: name → [content type, body]. */
let assets: Map<string, [string, Buffer]> | null = null;

function loadAssets(): Map<string, [string, Buffer]> {
  if (!assets) {
    const require = createRequire(import.meta.url);
    // msgpackr's browser build sits beside its Node entry (dist/); its exports do not name it.
    const msgpackr = join(dirname(require.resolve('msgpackr')), 'index.min.js');
    assets = new Map([
      ['index.html', ['text/html; charset=utf-8', readFileSync(new URL('index.html', PAGE_DIR))]],
      ['app.js', ['text/javascript; charset=utf-8', readFileSync(new URL('app.js', PAGE_DIR))]],
      ['style.css', ['text/css; charset=utf-8', readFileSync(new URL('style.css', PAGE_DIR))]],
      ['msgpackr.js', ['text/javascript; charset=utf-8', readFileSync(msgpackr)]],
    ]);
  }
  return assets;
}

/** Operator-only, and left out of GET /openapi.json: the page is not part of the REST API. */
const guarded = { config: { operatorOnly: true }, schema: { hide: true } };

export async function vizRoutes(
  app: FastifyInstance,
  opts: { source: () => VizSource; enabled?: () => boolean },
): Promise<void> {
  // restapi.ui: false turns the pages off (read per request: a reload applies at once).
  app.addHook('onRequest', async (_req, reply) => {
    if (opts.enabled && !opts.enabled())
      return reply.code(404).send({ error: 'the visualizer is off (restapi.ui: false)' });
  });
  const page = (_req: unknown, reply: { type(t: string): { send(b: Buffer): unknown } }) => {
    const [type, body] = loadAssets().get('index.html')!;
    return reply.type(type).send(body);
  };
  app.get('/ui', guarded, page);
  app.get('/ui/', guarded, page);
  app.get('/ui/assets/:file', guarded, async (req, reply) => {
    const asset = loadAssets().get((req.params as { file: string }).file);
    if (!asset) return reply.code(404).send({ error: 'no such asset' });
    return reply.type(asset[0]).header('cache-control', 'no-cache').send(asset[1]);
  });
  app.get('/ui/charts.json', guarded, async () => machineCharts());
  app.get('/ui/session.json', guarded, async () => {
    const s = opts.source();
    return s.mode === 'live'
      ? { mode: 'live', scope: s.scope, node: s.node }
      : { mode: 'journal', scope: null, files: s.files };
  });
  app.get('/ui/journal.json', guarded, async (_req, reply) => {
    const s = opts.source();
    if (s.mode !== 'journal')
      return reply.code(404).send({ error: 'live mode: the journal streams over /ui/stream' });
    return { files: s.files, members: s.members, transitions: s.transitions };
  });
  app.get('/ui/token', guarded, async (_req, reply) => {
    const s = opts.source();
    if (s.mode !== 'live') return reply.code(404).send({ error: 'journal mode has no stream' });
    return { token: s.token() };
  });
}
