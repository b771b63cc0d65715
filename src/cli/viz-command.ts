/**
 * `pgwarden viz --journal FILES [--port N]`: the statechart visualizer, offline, on recorded
 * journals: a local web server (loopback unless --host says otherwise) serving the page in
 * journal mode, until Ctrl-C. The live view of a running cluster is GET /ui on any agent.
 */
import Fastify from 'fastify';
import { agentRuns, JournalError, loadJournalFiles } from '../replay/index.ts';
import { journalTransitions, type VizTransition } from '../replay/transitions.ts';
import { vizRoutes } from '../viz/ui-routes.ts';
import { CliError } from './errors.ts';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export interface VizOptions {
  journal?: string[];
  port?: string;
  host?: string;
}

/** Every node's transitions, merged in time order (a node's own order kept at equal times). */
export function journalData(files: readonly string[]): { members: string[]; transitions: VizTransition[] } {
  let runs: ReturnType<typeof agentRuns>;
  try {
    runs = loadJournalFiles(files).flatMap((entries) => agentRuns(entries));
  } catch (err) {
    if (err instanceof JournalError) throw new CliError(err.message, 2);
    throw err;
  }
  const transitions = runs.flatMap((run) => journalTransitions(run.entries, run.node));
  transitions.sort((a, b) => a.t - b.t);
  return { members: [...new Set(runs.map((r) => r.node))].sort(), transitions };
}

export async function runViz(opts: VizOptions, log: (line: string) => void = console.log): Promise<number> {
  const files = opts.journal ?? [];
  if (files.length === 0)
    throw new CliError(
      'viz: give --journal FILE... (the live view of a cluster is GET /ui on any of its agents)',
      2,
    );
  const port = opts.port === undefined ? 8300 : Number(opts.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new CliError(`--port: '${opts.port}' is not a port`, 2);
  const data = journalData(files);
  const app = Fastify({ logger: false });
  const host = opts.host ?? '127.0.0.1';
  // On loopback, only pages that name loopback: a site whose name resolves here (DNS rebinding)
  // must not read the journals through the operator's browser.
  if (LOOPBACK.has(host)) {
    app.addHook('onRequest', async (req, reply) => {
      const name = (req.headers.host ?? '').replace(/:\d+$/, '');
      if (!LOOPBACK.has(name)) return reply.code(403).send({ error: 'only loopback names may ask' });
    });
  }
  await app.register(vizRoutes, { source: () => ({ mode: 'journal', files, ...data }) });
  const address = await app.listen({ host, port });
  log(
    `pgwarden viz: ${data.transitions.length} transitions of ${data.members.join(', ')} at ${address}/ui (Ctrl-C stops)`,
  );
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await app.close();
  return 0;
}
