/**
 * Request bodies the way Patroni reads them: clients (patronictl, peers) send JSON without a
 * Content-Type, so every body arrives as text and is parsed here; a required body needs a
 * Content-Length (411), and must be a JSON object (400).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';

/** Take every body as text, whatever its Content-Type says (encapsulated to the calling plugin). */
export function acceptRawBodies(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
}

export type BodyResult =
  | { ok: true; value: Record<string, unknown> }
  | { ok: false; status: number; text: string };

export function jsonObjectBody(req: FastifyRequest, required: boolean): BodyResult {
  const length = req.headers['content-length'];
  const text = typeof req.body === 'string' ? req.body : '';
  // Patroni reads exactly Content-Length bytes: without the header there is no body to read.
  if (length === undefined) {
    return required ? { ok: false, status: 411, text: 'Length Required' } : { ok: true, value: {} };
  }
  if (text === '') {
    return required ? { ok: false, status: 400, text: 'Bad Request: empty body' } : { ok: true, value: {} };
  }
  if (text.trim() === '') return { ok: false, status: 400, text: 'Bad Request: empty body' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return {
      ok: false,
      status: 400,
      text: `Bad Request: body is not valid JSON (${(err as Error).message})`,
    };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, status: 400, text: 'Bad Request: body must be a JSON object' };
  }
  return { ok: true, value: value as Record<string, unknown> };
}
