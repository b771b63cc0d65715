/**
 * REST APIs for simulated nodes, built once per thread and lent out: building the fastify app
 * (routes, schemas, OpenAPI) costs several ms, more than a simulated agent's whole life between
 * two restarts. A lent API answers for whichever agent its borrower points it at, through the
 * same ApiContext the Agent gives its own API (Agent.apiContext), so the routes and answers
 * are the production ones.
 */
import type { FastifyInstance } from 'fastify';
import type { Operations } from '../http/operations.ts';
import { type ApiContext, buildApi } from '../http/server.ts';

export interface LentApi {
  app: Promise<FastifyInstance>;
}

interface Entry extends LentApi {
  target: { ctx: ApiContext | null };
  use(ctx: ApiContext): void;
}

const idle: Entry[] = [];

function build(first: ApiContext): Entry {
  // Building reads the context too (the server options of the configuration).
  const target: { ctx: ApiContext | null } = { ctx: first };
  const now = (): ApiContext => {
    if (!target.ctx) throw new Error('a pooled REST API answered without a node behind it');
    return target.ctx;
  };
  const ops = new Proxy({} as Operations, {
    get: (_, key) => {
      const op = now().ops[key as keyof Operations];
      return typeof op === 'function' ? op.bind(now().ops) : op;
    },
  });
  const app = buildApi({
    report: () => now().report(),
    settings: () => now().settings(),
    nextRun: () => now().nextRun(),
    now: () => now().now(),
    config: () => now().config(),
    ops,
  });
  return {
    target,
    app,
    use(ctx) {
      target.ctx = ctx;
    },
  };
}

/** An API of this thread's pool (a new one when all are lent), answering for `ctx`. */
export function borrowApi(ctx: ApiContext): LentApi {
  const api = idle.pop() ?? build(ctx);
  api.use(ctx);
  return api;
}

/** Back to the pool; it answers for nobody until borrowed again. */
export function returnApi(api: LentApi): void {
  const entry = api as Entry;
  entry.target.ctx = null;
  idle.push(entry);
}
